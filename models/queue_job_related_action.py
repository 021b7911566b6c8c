"""The job form's related action (OCA queue_job's ``@related_action``):
a button that opens what a queue.job method, named by the job's
``@job`` method, returns; by default the records the job runs on.

The action runs in the request, as the user, on a job the user can read;
which method it calls comes only from the code of the job's method
(``engine/job_method.py related_action_of``), never from the request.
"""
from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..engine.job_method import find_job_method, related_action_of
from .queue_job import _json_list


class QueueJob(models.Model):
    _inherit = 'queue.job'

    related_action = fields.Char(
        'Related Action', compute='_compute_related_action',
        help="The queue.job method the job's @related_action names (empty: none).")

    @api.depends('model_name', 'method_name')
    def _compute_related_action(self):
        for job in self:
            found = job._related_action()
            job.related_action = found and found[0]

    def _related_action(self):
        """(method name, kwargs) of the job's related action, or None when
        its model or @job method is gone or it declares none."""
        if self.model_name not in self.env:
            return None
        try:
            job_method = find_job_method(type(self.env[self.model_name]), self.method_name)
        except LookupError:
            return None
        return related_action_of(job_method)

    def open_related_action(self):
        """The action of the job's related action, for the form's button."""
        self.ensure_one()
        self.check_access_rights('read')
        self.check_access_rule('read')
        found = self._related_action()
        if found is None:
            raise UserError(_('No action available for this job.'))
        name, kwargs = found
        method = getattr(type(self), name, None)
        if not callable(method):
            raise UserError(_('The related action %s of %s.%s is not a method of queue.job.')
                            % (name, self.model_name, self.method_name))
        action = getattr(self, name)(**kwargs)
        if not action:
            raise UserError(_('No action available for this job.'))
        return action

    def related_action_open_record(self):
        """The default related action: the records the job runs on that
        still exist, in their own form (one) or list (several)."""
        self.ensure_one()
        if self.model_name not in self.env:
            raise UserError(_('Model %s does not exist (is its module installed?).')
                            % self.model_name)
        records = self.env[self.model_name].browse(_json_list(self.record_ids)).exists()
        if not records:
            return None
        action = {
            'type': 'ir.actions.act_window',
            'name': _('Records of job %s') % (self.name or self.id),
            'res_model': records._name,
            'domain': [('id', 'in', records.ids)],
            'view_mode': 'tree,form',
            'views': [(False, 'tree'), (False, 'form')],
        }
        if len(records) == 1:
            action.update(res_id=records.id, view_mode='form', views=[(False, 'form')])
        return action

