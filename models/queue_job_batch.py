"""Batches: a parent queue.job whose children each run one chunk of a large
record set, and a done method run once when every child has finished. The
logic is in engine/batch.py (SQL in engine/store/batches.py); this is the Odoo
glue, an extension of the core model (models/queue_job.py): its admin
actions call the core's through ``super()``."""
import logging

import psycopg2.extensions

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..engine import batch, defaults, store
from ..service.decorator import job
from ..service import batch as batch_service

_logger = logging.getLogger(__name__)


class QueueJobBatch(models.Model):
    _inherit = 'queue.job'

    parent_id = fields.Many2one('queue.job', 'Batch', readonly=True,
                                ondelete='cascade')
    child_ids = fields.One2many('queue.job', 'parent_id', 'Batch Jobs',
                                readonly=True)
    is_batch = fields.Boolean('Is a Batch', readonly=True)
    job_size = fields.Integer('Records per Job', readonly=True)
    done_method = fields.Char(
        'Done Method', readonly=True,
        help="'<model>.<method>' run once when every job of the batch has finished.")
    job_res_id = fields.Integer('Done Method Record', readonly=True,
                                help='The id passed to the done method.')
    done_job_id = fields.Many2one('queue.job', 'Done Method Job', readonly=True,
                                  ondelete='set null')
    # The batch form shows the outcome of the done method.
    done_job_state = fields.Selection(related='done_job_id.state', readonly=True,
                                      string='Done Method State')
    done_job_result = fields.Text(related='done_job_id.result', readonly=True,
                                  string='Done Method Result')
    done_job_exc_message = fields.Text(related='done_job_id.exc_message', readonly=True,
                                       string='Done Method Error')
    batch_state = fields.Selection(batch.STATE_SELECTION, 'Batch State',
                                   compute='_compute_batch_progress')
    batch_total = fields.Integer('Jobs', compute='_compute_batch_progress')
    batch_done = fields.Integer('Done Jobs', compute='_compute_batch_progress')
    batch_failed = fields.Integer('Failed Jobs', compute='_compute_batch_progress')
    batch_running = fields.Integer('Running Jobs', compute='_compute_batch_progress')
    batch_progress = fields.Float('Progress (%)', compute='_compute_batch_progress',
                                  help='Share of the jobs of the batch that have finished; '
                                       'running jobs count with the progress they report.')

    def _compute_progress(self):
        """A batch's progress is its jobs' (batch_progress)."""
        super()._compute_progress()
        for record in self.filtered('is_batch'):
            record.progress = record.batch_progress

    def _compute_batch_progress(self):
        batches = self.filtered(lambda job: job.is_batch and isinstance(job.id, int))
        counts = store.batch_progress(self.env.cr, batches.ids) if batches else {}
        partial = store.running_children_progress(self.env.cr, batches.ids) if batches else {}
        for record in self:
            progress = batch.Progress.from_counts(counts.get(record.id, {}),
                                                  partial.get(record.id, 0.0))
            record.batch_state = record in batches and batch.batch_state(
                record.state, record.done_job_id.id, progress)
            record.batch_total = progress.total
            record.batch_done = progress.done
            record.batch_failed = progress.failed
            record.batch_running = progress.running
            record.batch_progress = progress.percent if record in batches else 0.0

    @api.model
    @api.returns('self', lambda batch: batch.id)  # over RPC: the batch's id
    def batch_execute_job(self, model_name, method_name, record_ids, done_method=None,
                          job_size=defaults.JOB_SIZE, job_res_id=None, args=(), kwargs=None,
                          channel=None, priority=None):
        """Run ``model_name(ids).method_name(*args, **kwargs)`` in the
        background, ``job_size`` ids per job, then ``done_method``
        (``'<model>.<method>'``) once, as
        ``env[model].with_context(batch_job_id=<batch id>).method(job_res_id)``
        (no argument without job_res_id). Returns the batch (a queue.job;
        its jobs are its child_ids). Called from a job, the batch joins that
        job's batch, which then waits for it (nested batches).

        Public, so callable over RPC: refused to portal and public users,
        and users who are not job managers get the job method's own
        channel and priority. Python code keeps its choice with
        ``delay_batch`` (``_batch_execute_job``)."""
        if self.env.user.share:
            raise AccessError(_('Portal and public users cannot start batches.'))
        if not self._is_manager():
            channel = priority = None
        return self._batch_execute_job(
            model_name, method_name, record_ids, done_method=done_method, job_size=job_size,
            job_res_id=job_res_id, args=args, kwargs=kwargs, channel=channel, priority=priority)

    @api.model
    def _batch_execute_job(self, model_name, method_name, record_ids, done_method=None,
                           job_size=defaults.JOB_SIZE, job_res_id=None, args=(), kwargs=None,
                           channel=None, priority=None):
        """batch_execute_job for Python code (delay_batch): unreachable over
        RPC, so the caller's channel and priority hold."""
        return batch_service.execute(
            self.env, model_name, method_name, record_ids, done_method=done_method,
            job_size=job_size, job_res_id=job_res_id, args=args, kwargs=kwargs,
            channel=channel, priority=priority)

    # -- admin actions of the core model, for batches ----------------------------
    # A batch is requeued or cancelled with its jobs; it finishes when they
    # do, so it is never set done or run by hand. A job ended by hand may
    # have been the last of its batch, or a batch's done job: its batch ends
    # now rather than at the next run of the cron.
    def requeue(self):
        """A batch's done job is requeued with its batch: the batch gets a new one."""
        self._check_manager()
        owners = self.search([('done_job_id', 'in', self.ids)])  # of these done jobs
        batches = self.filtered('is_batch') | owners
        if batches:
            batches.requeue_batch()
        return super(QueueJobBatch, self - batches - owners.mapped('done_job_id')).requeue()

    def run_now(self):
        self._check_manager()
        self._refuse_batches(_('run now'))
        return super().run_now()

    def set_done(self):
        self._check_manager()
        self._refuse_batches(_('set to done'))
        super().set_done()
        self._finish_batches_of_jobs(self.ids)
        return True

    def cancel(self):
        self._check_can_cancel()
        batches = self.filtered('is_batch')
        if batches:
            batches.cancel_batch()
        jobs = self - batches
        super(QueueJobBatch, jobs).cancel()
        self._finish_batches_of_jobs(jobs.ids)
        return True

    def _refuse_batches(self, what):
        if any(self.mapped('is_batch')):
            raise UserError(_('A batch cannot be %s: it finishes when its jobs have '
                              'finished. Cancel or requeue the batch instead.') % what)

    # -- batch actions -------------------------------------------------------------
    def cancel_batch(self):
        """Cancel the batches' jobs that have not started (and their nested
        batches); running jobs finish. The done method will not run.
        Managers cancel any batch, users their own (as ``cancel``)."""
        if not self._is_manager() and any(job.user_id.id != self.env.uid for job in self):
            raise AccessError(_('You can only cancel batches you started.'))
        outer = store.cancel_batches(self.env.cr, self._batches().ids)
        self._finish_batches(outer)
        self.invalidate_cache()
        return True

    def requeue_batch(self):
        """Run the failed and cancelled jobs of the batches again; the done
        method runs again, once, when they have finished."""
        self._check_manager()
        reopened = store.requeue_batches(self.env.cr, self._batches().ids)
        self._finish_batches(reopened)
        self.invalidate_cache()
        return True

    def _batches(self):
        """The batches among these jobs (that the user may read: the
        changes are SQL, which record rules do not filter)."""
        self.check_access_rights('read')
        self.check_access_rule('read')
        batches = self.filtered('is_batch')
        if self and not batches:
            raise UserError(_('These jobs are not batches.'))
        return batches

    @api.model
    def _finish_batches(self, batch_ids):
        """End these batches if this transaction completed them, and the
        batches around them (engine/batch.py ``finish_batches``)."""
        batch.finish_batches(self.env.cr, batch_ids)

    @api.model
    def _finish_batches_of_jobs(self, job_ids):
        """End the batches that these jobs, ended in this transaction, may
        have completed (engine/batch.py ``finish_batches_of_jobs``)."""
        batch.finish_batches_of_jobs(self.env.cr, job_ids)

    @job(max_retries=store.batches.DONE_JOB_MAX_RETRIES)
    def _run_batch_done_method(self):
        """Run the done method of a finished batch (the job that
        store.finish_batches enqueues); the batch ends done with the
        method's effects."""
        self.ensure_one()
        done_job_id = self.env.context.get('background_job_id')
        if not store.lock_batch_for_done(self.env.cr, self.id, done_job_id):
            return 'not run: batch %s no longer waits for this job (requeued or cancelled)' \
                % self.id
        batch_row = self.sudo()  # the engine's read: not under the user's record rules
        result = batch_service.call_done_method(self.env, self.id, batch_row.done_method,
                                                batch_row.job_res_id)
        store.mark_batch_done(self.env.cr, self.id, done_job_id)
        return result

    # -- crons (data/ir_cron_data.xml) ------------------------------------------
    @api.model
    def _cron_finish_batches(self):
        """Safety net: finish every complete batch whose done method was not
        enqueued. Workers do it as soon as the last job finished; a job set
        done or cancelled by hand, or a server killed between a job's commit
        and that step, leaves one for this cron."""
        batch_ids = None  # every complete batch, then the batches around them
        while True:
            try:
                with self.env.cr.savepoint():
                    batch_ids = store.finish_batches(self.env.cr, batch_ids,
                                                     log_exceptions=False)
            except psycopg2.extensions.TransactionRollbackError:
                # a worker finished one of them since this transaction began
                _logger.info('batches finished concurrently; the next run checks again')
                return
            if not batch_ids:
                return

