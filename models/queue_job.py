"""The job table. Rows are written by the engine (engine/store/) in plain
SQL; this model gives them to the backend and to Python code.

Nobody creates a job or changes what it runs through the ORM (hence through
RPC): ``create`` is refused always, and the fields that say which code runs,
on what and as whom are writable only with ``ENGINE_WRITE`` in the context,
an object JSON-RPC cannot produce. Admin actions change the state with one
guarded SQL statement each (``store.admin_*``).

Batches extend this model (models/queue_job_batch.py); it does not know them.
"""
import json
import logging
import pprint

import psycopg2
import psycopg2.errors

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..engine import defaults, schema, serialization, states, store, watchdog
from ..engine.job_method import find_job_method
from ..service import options

_logger = logging.getLogger(__name__)

MANAGER_GROUP = 'background_job.background_job_group_manager'

# ``with_context(**{ENGINE_WRITE_KEY: ENGINE_WRITE})`` lets Python code write
# protected fields. A JSON-RPC context holds only JSON values, never this
# object, so the check ``is ENGINE_WRITE`` cannot be passed from outside.
ENGINE_WRITE = object()
ENGINE_WRITE_KEY = 'background_job_engine_write'

# When and how a job runs, not what or as whom: writable without the sentinel.
SCHEDULING_FIELDS = frozenset({'name', 'priority', 'eta', 'channel', 'max_retries', 'timeout'})

# Bus channel (with the database and the user id) of failure notifications.
FAILED_CHANNEL = 'background_job.failed'
CALL_DISPLAY_MAX_CHARS = 20000
# Rows the purge cron deletes per statement (a short lock each).
PURGE_CHUNK = 10000


class ForeignKeyFreeMany2one(fields.Many2one):
    """A Many2one without a database foreign key, where its check costs a
    hot path more than it protects.

    - worker_id: every claim sets it; a foreign key would make each claim
      take a KEY SHARE lock on the same worker row from every thread at
      once, which PostgreSQL records as MultiXacts: it halves the claim rate.
      The engine treats a job whose worker row is missing as orphaned.
    - user_id, company_id: every delay() writes them, always the caller's
      own user and company; their checks are a third of delay()'s time in
      PostgreSQL. The other direction stays guarded: engine/schema.py
      refuses to delete a user or company that jobs refer to, as
      ``ondelete='restrict'`` would.
    """

    def update_db_foreign_key(self, model, column):
        return


class QueueJob(models.Model):
    _name = 'queue.job'
    _description = 'Background Job'
    _order = 'date_created desc, id desc'
    _log_access = False  # date_created and user_id say who and when

    uuid = fields.Char('UUID', readonly=True, required=True)
    name = fields.Char('Description', readonly=True)
    model_name = fields.Char('Model', readonly=True, required=True)
    method_name = fields.Char('Method', readonly=True, required=True)
    record_ids = fields.Text('Record IDs', readonly=True, default='[]',
                             help='JSON list of the ids the method runs on.')
    args = fields.Text('Positional Arguments', readonly=True, default='[]')
    kwargs = fields.Text('Keyword Arguments', readonly=True, default='{}')
    context = fields.Text('Context', readonly=True, default='{}',
                          help='The context keys the job runs with (JSON).')
    user_id = ForeignKeyFreeMany2one('res.users', 'User', readonly=True, index=True,
                                     required=True, ondelete='restrict')
    company_id = ForeignKeyFreeMany2one('res.company', 'Company', readonly=True,
                                        ondelete='restrict')
    channel = fields.Char('Channel', readonly=True, required=True,
                          default=defaults.CHANNEL)
    priority = fields.Integer('Priority', readonly=True, default=defaults.PRIORITY,
                              help='Lower runs first.')
    eta = fields.Datetime('Not Before', readonly=True, required=True,
                          default=fields.Datetime.now)
    # indexed with company_id by engine/schema.py
    state = fields.Selection(states.SELECTION, 'State', readonly=True,
                             required=True, default=states.PENDING)
    retry = fields.Integer('Retries', readonly=True, default=0)
    max_retries = fields.Integer('Max Retries', readonly=True, default=defaults.MAX_RETRIES,
                                 help='0: never retried.')
    # NULL: none given (with_delay(timeout=), @job(timeout=)); see time_limit
    timeout = fields.Integer('Time Limit Given (s)', readonly=True)
    time_limit = fields.Integer(
        'Time Limit (s)', compute='_compute_time_limit',
        help="Wall-clock seconds the job may run: with_delay(timeout=), else "
             "@job(timeout=), else the server's [background_job] timeout; 0: no limit.")
    identity_key = fields.Char('Identity Key', readonly=True)
    exc_type = fields.Char('Exception', readonly=True)
    exc_message = fields.Text('Exception Message', readonly=True)
    exc_info = fields.Text('Traceback', readonly=True)
    result = fields.Text('Result', readonly=True)
    date_created = fields.Datetime('Created', readonly=True, required=True,
                                   default=fields.Datetime.now)
    date_started = fields.Datetime('Started', readonly=True)
    date_done = fields.Datetime('Finished', readonly=True)
    exec_time = fields.Float('Execution Time (s)', readonly=True,
                             group_operator='avg')
    worker_id = ForeignKeyFreeMany2one('queue.job.worker', 'Worker', readonly=True)

    call_display = fields.Text('Call', compute='_compute_call_display',
                               help='The call the job makes, with its arguments decoded.')
    record_count = fields.Integer('Records', compute='_compute_call_display')

    def _compute_time_limit(self):
        stored = store.stored_timeouts(self.env.cr, self.ids)
        default = options.settings().timeout
        for job in self:
            model = self.env.registry.models.get(job.model_name, object)
            try:
                method_timeout = find_job_method(model, job.method_name).timeout
            except LookupError:  # model or method gone: the server's
                method_timeout = None
            job.time_limit = watchdog.effective_timeout(stored.get(job.id), method_timeout,
                                                        default)

    @api.model_cr
    def init(self):
        schema.install(self.env.cr)

    # -- display ---------------------------------------------------------------
    @api.depends('model_name', 'method_name', 'record_ids', 'args', 'kwargs')
    def _compute_call_display(self):
        for job in self:
            ids = _json_list(job.record_ids)
            job.record_count = len(ids)
            job.call_display = job._format_call(ids)

    def _format_call(self, ids):
        """``model(ids).method(arg, key=value)``, arguments as Python values;
        the stored JSON when they cannot be decoded (e.g. a model is gone)."""
        try:
            args, kwargs = serialization.loads_arguments(
                self.args or '[]', self.kwargs or '{}', browse=self._browse_for_display)
        except Exception as error:  # any stored text must stay displayable
            return '%s.%s(*%s, **%s)\n\n(arguments not decoded: %s)' % (
                self.model_name, self.method_name, self.args, self.kwargs, error)
        parts = [pprint.pformat(value, width=100) for value in args]
        parts += ['%s=%s' % (key, pprint.pformat(value, width=100))
                  for key, value in kwargs.items()]
        text = '%s(%s).%s(%s)' % (self.model_name, ', '.join(map(str, ids)),
                                  self.method_name, ', '.join(parts))
        if len(text) > CALL_DISPLAY_MAX_CHARS:
            text = text[:CALL_DISPLAY_MAX_CHARS] + '... (%d characters)' % len(text)
        return text

    def _browse_for_display(self, model_name, ids):
        if model_name in self.env:
            return self.env[model_name].browse(ids)
        return _MissingModel(model_name, ids)

    # -- admin actions -----------------------------------------------------------
    def requeue(self):
        """Failed, cancelled or done jobs run again (with full retries)."""
        self._check_manager()
        return self._admin_change(_('requeued'), states.REQUEUE_FROM, store.admin_requeue)

    def run_now(self):
        """Pending or failed jobs run next: eta now, top priority. The job
        still runs in a worker, never in this request."""
        self._check_manager()
        return self._admin_change(_('run now'), states.RUN_NOW_FROM, store.admin_requeue,
                                  top_priority=True)

    def set_done(self):
        self._check_manager()
        result = _('Set to done by hand by %s.') % self.env.user.name
        return self._admin_change(_('set to done'), states.SET_DONE_FROM,
                                  store.admin_set_done, result=result)

    def cancel(self):
        """Managers cancel any waiting or pending job; users their own."""
        self._check_can_cancel()
        return self._admin_change(_('cancelled'), states.CANCEL_FROM, store.admin_cancel)

    def _check_can_cancel(self):
        self._check_own_jobs(_('You can only cancel jobs you enqueued.'))

    def _check_own_jobs(self, message):
        """Managers act on any job; other users on the jobs they enqueued."""
        if not self._is_manager() and any(job.user_id.id != self.env.uid for job in self):
            raise AccessError(message)

    def stop(self):
        """Stop running jobs, on whichever server runs them: within about 2 s
        their transaction is rolled back and they end cancelled, "stopped
        by <user>", never retried. Managers stop any job, users their own."""
        self._check_own_jobs(_('You can only stop jobs you enqueued.'))
        self.check_access_rights('read')
        self.check_access_rule('read')
        stopped = store.request_stop(self.env.cr, self.ids, self.env.user.name)
        not_running = self - self.browse(stopped)
        if not_running:
            raise UserError(_('Only running jobs can be stopped, and these are not running: '
                              '%s. Reload to see their current state.')
                            % ', '.join(not_running.mapped('display_name')))
        return True

    @api.model
    def stop_requested(self):
        """In a job's code: whether someone asked to stop it (Stop, stop()).
        A job that checks it can return early; it then ends cancelled, its
        work rolled back, before the worker ends it. False outside jobs."""
        return watchdog.stop_requested()

    def _admin_change(self, what, from_states, change, **change_options):
        """Apply one guarded SQL change to the jobs the user may see; the
        jobs that were not in ``from_states`` or were locked by a worker are
        left as they are. UserError when none changed."""
        self.check_access_rights('read')
        self.check_access_rule('read')
        changed = change(self.env.cr, self.ids, sorted(from_states), **change_options)
        self.invalidate_cache(ids=self.ids)
        if self and not changed:
            allowed = ', '.join(label for value, label in states.SELECTION if value in from_states)
            raise UserError(_('No job could be %s: only jobs in these states can (%s), '
                              'and a running job is never changed by hand. '
                              'Reload to see their current state.') % (what, allowed))
        return True

    def _is_manager(self):
        return self.env.uid == SUPERUSER_ID or self.env.user.has_group(MANAGER_GROUP)

    def _check_manager(self):
        if not self._is_manager():
            raise AccessError(_('Only job queue managers can do this.'))

    # -- protection of the table -----------------------------------------------
    @api.model
    def create(self, values):
        raise AccessError(_('Jobs cannot be created directly: they are enqueued by '
                            'code, with records.with_delay().method() or method.delay().'))

    def write(self, values):
        protected = set(values) - SCHEDULING_FIELDS
        if protected and self.env.context.get(ENGINE_WRITE_KEY) is not ENGINE_WRITE:
            raise AccessError(_('What a job runs, on which records, with which arguments '
                                'and as whom cannot be changed (fields: %s).')
                              % ', '.join(sorted(protected)))
        self._lock_rows(_('changed'))
        return super().write(values)

    def unlink(self):
        self._lock_rows(_('deleted'), delete=True)
        return super().unlink()

    def _lock_rows(self, what, delete=False):
        """Lock the rows now or fail: a running job's row is locked by its
        worker until it ends, and the request must not hang on it."""
        if not self.ids:
            return
        try:
            with self.env.cr.savepoint():
                store.lock_nowait(self.env.cr, self.ids, delete=delete, log_exceptions=False)
        except psycopg2.errors.LockNotAvailable:
            raise UserError(_('A job is running and cannot be %s now; try again once '
                              'it has finished.') % what) from None

    # -- crons (data/ir_cron_data.xml) ------------------------------------------
    @api.model
    def _cron_purge_finished(self):
        """Remove done and cancelled jobs older than keep_days, and the stop
        requests that no attempt took (their job ended first)."""
        days = self._keep_days()
        removed = 0
        while True:
            chunk = store.purge_finished(self.env.cr, days, PURGE_CHUNK)
            removed += chunk
            if chunk < PURGE_CHUNK:
                break
        _logger.info('removed %d finished jobs older than %d days', removed, days)
        store.purge_stop_requests(self.env.cr)

    @api.model
    def _keep_days(self):
        """Days done and cancelled jobs, and rows of gone workers, are kept
        (keep_days in the [background_job] section of the config file)."""
        return options.settings().keep_days

    # -- failure notification ----------------------------------------------------
    def _notify_failed(self):
        """Tell the users who enqueued these (failed) jobs, on the bus: the
        web client shows a notification (static/src/js)."""
        notifications = [
            ((self.env.cr.dbname, FAILED_CHANNEL, job.user_id.id), {
                'id': job.id, 'name': job.name or '%s.%s' % (job.model_name, job.method_name),
                'exc_message': (job.exc_message or '')[:500],
            })
            for job in self.sudo() if job.state == states.FAILED]
        if notifications:
            self.env['bus.bus'].sendmany(notifications)


class _MissingModel:
    """Stands for records of a model that is not installed, in displays."""

    def __init__(self, model_name, ids):
        self.text = '%s(%s)' % (model_name, ', '.join(map(str, ids)))

    def __repr__(self):
        return self.text


def _json_list(text):
    try:
        value = json.loads(text or '[]')
    except ValueError:
        return []
    return value if isinstance(value, list) else []
