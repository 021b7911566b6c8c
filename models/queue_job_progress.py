"""Progress of running jobs, as set_progress() reports it (engine/progress.py;
stored in queue_job_progress by the attempt's reporter): fields of
``queue.job`` for the backend, an extension of the core model."""
from odoo import api, fields, models

from ..engine import progress, states, store


class QueueJobProgress(models.Model):
    _inherit = 'queue.job'

    progress = fields.Float(
        'Progress', compute='_compute_progress', group_operator='avg',
        help='Percent done, as the job reports it with set_progress(done, total); '
             '100 once the job is done.')
    progress_done = fields.Float('Done So Far', compute='_compute_progress')
    progress_total = fields.Float('Total to Do', compute='_compute_progress')
    progress_message = fields.Char('Progress Message', compute='_compute_progress')
    progress_date = fields.Datetime('Progress Reported', compute='_compute_progress')

    def _compute_progress(self):
        """Of the current attempt, or of the last one (store.progress_of_jobs)."""
        reported = store.progress_of_jobs(
            self.env.cr, [job_id for job_id in self.ids if isinstance(job_id, int)])
        for job in self:
            done, total, message, date = reported.get(job.id, (0.0, None, None, None))
            percent = progress.Reported(done, total).percent
            job.progress = 100.0 if job.state == states.DONE else (percent or 0.0)
            job.progress_done = done
            job.progress_total = total or 0.0
            job.progress_message = message
            job.progress_date = date

    @api.model
    def set_progress(self, done, total=None, message=None):
        """Report the progress of the running job: ``done`` of ``total`` (any
        numbers, e.g. records or bytes), and a short message. Cheap enough
        for every loop step: written at most every half second and when the
        attempt ends, never in the job's transaction (its rollback keeps
        it). Outside a job it does nothing. ValueError for a negative
        number, or done greater than total."""
        progress.report(self.env.context.get('background_job_id'), done, total, message)
