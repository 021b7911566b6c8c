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
        failed = self._background_job_failed_count()
        if not failed:
            return menus
        menus = copy.deepcopy(menus)
        for item in _walk(menus):
            if item.get('id') == menu.id:
                item['background_job_failed'] = failed
        return menus

    @api.model
    def _background_job_failed_count(self):
        """The badge's number: the failed jobs the user sees (None for a user
        who may not read jobs). Also polled by the live backend
        (controllers/live.py)."""
        jobs = self.env['queue.job']
        if not jobs.check_access_rights('read', raise_exception=False):
            return None
        return jobs.search_count([('state', '=', 'failed')])


def _walk(item):
    yield item
    for child in item.get('children') or ():
        yield from _walk(child)
