"""Periodic jobs: ``ir.cron`` with *Run as job* (run_as_queue_job, as OCA's
queue_job_cron): when due, the cron thread only enqueues a job, which then
has the queue's retries, time limit, channel and history
(service/periodic.py)."""
import logging

import psycopg2.errors

from odoo import api, fields, models

from ..service import periodic
from ..service.decorator import job

_logger = logging.getLogger(__name__)


class IrCron(models.Model):
    _inherit = 'ir.cron'

    run_as_queue_job = fields.Boolean(
        'Run as Job', help='When due, enqueue a background job that runs the action, '
                           'instead of running it in the cron thread.')
    channel_id = fields.Many2one('queue.job.channel', 'Job Channel',
                                 default=lambda self: self._default_channel())
    queue_job_overlap = fields.Selection(
        periodic.OVERLAP_SELECTION, 'While the Previous Job Runs', default='wait',
        required=True, help='What a due time does while the job of the one before '
                            'has not finished: wait for it (then run), or enqueue nothing.')

    @api.model
    def _default_channel(self):
        return self.env['queue.job.channel'].search([('name', '=', 'root')], limit=1)

    @api.model
    def _callback(self, cron_name, server_action_id, job_id):
        cron = self.browse(job_id)
        if not cron.sudo().run_as_queue_job:
            return super()._callback(cron_name, server_action_id, job_id)
        try:
            periodic.enqueue_due(cron)
        except psycopg2.errors.SerializationFailure:
            # another server took this due time after this transaction began
            # (store/crons.py TAKE_SLOT): its job is the one
            self._cr.rollback()
            _logger.info('cron %s: its job of this due time was enqueued by another server',
                         cron_name)
        except Exception:  # as Odoo's own _callback: log, and the cron goes on
            self._cr.rollback()
            _logger.exception('cron %s: could not enqueue its job', cron_name)

    @job
    def _run_as_queue_job(self):
        """Run a periodic job: the cron's action, as the cron's user."""
        self.ensure_one()
        return self.sudo().ir_actions_server_id.sudo(self.env.uid).run()
