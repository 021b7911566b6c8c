"""A badge with the number of failed jobs on the Jobs menu (Odoo 11 has no
needaction counters without the mail addon): the menu tree is rendered on
the server from ``load_menus``, and views/webclient_templates.xml shows
``background_job_failed`` where a menu item has it."""
import copy

from odoo import api, models

JOBS_MENU = 'background_job.queue_job_menu'


class IrUiMenu(models.Model):
    _inherit = 'ir.ui.menu'

    @api.model
    def load_menus(self, debug):
        menus = super().load_menus(debug)  # cached: copied before it is changed
        menu = self.env.ref(JOBS_MENU, raise_if_not_found=False)
        if not menu or menu.id not in menus.get('all_menu_ids', ()):
            return menus
        failed = self.env['queue.job'].search_count([('state', '=', 'failed')])
        if not failed:
            return menus
        menus = copy.deepcopy(menus)
        for item in _walk(menus):
            if item.get('id') == menu.id:
                item['background_job_failed'] = failed
        return menus


def _walk(item):
    yield item
    for child in item.get('children') or ():
        yield from _walk(child)
