"""The Odoo side of a job attempt (engine/attempt.py ``Application``): the
job's environment and method, its options, how to notify, the job thread's
cursor. The attempt itself, lock to outcome, is the engine's."""
import dataclasses
import json
import logging
import threading
import time

import psycopg2

import odoo
from odoo import SUPERUSER_ID, api, models
from odoo.exceptions import except_orm

from ..engine import attempt, serialization, store
from ..engine.job_method import find_job_method
from ..engine.outage import connection_lost
from ..engine.exceptions import NotAJobError, RecordsGoneError
from ..engine.retry import RetryPolicy
from . import company
from .job_cursor import JobCursor

_logger = logging.getLogger(__name__)

# How often a worker checks whether another process changed the registry
# (module install/upgrade), in seconds.
REGISTRY_CHECK_INTERVAL = 5


def resolve(env, model_name, method_name):
    """The @job method to run; NotAJobError for anything else."""
    if model_name not in env:
        raise NotAJobError('model %r does not exist (is its module installed?)' % model_name)
    try:
        return find_job_method(type(env[model_name]), method_name)
    except LookupError:
        raise NotAJobError(
            '%s.%s is not a job: only methods decorated with @job can run from '
            'the queue; nothing was run' % (model_name, method_name)) from None


def call_job(env, model_name, method_name, record_ids, args_json, kwargs_json):
    """Call a job's method in ``env``; returns the method's result.

    Records deleted since the job was enqueued, its own and those of its
    recordset arguments, are left out; when none of a recordset is left, the
    job fails with RecordsGoneError (not retried).
    """
    job_method = resolve(env, model_name, method_name)
    records = existing(env, model_name, record_ids, 'of this job')
    args, kwargs = serialization.loads_arguments(
        args_json, kwargs_json,
        browse=lambda model, ids: existing(env, model, ids, 'of an argument of this job'))
    return job_method.func(records, *args, **kwargs)


def existing(env, model_name, ids, whose):
    """The records of ``ids`` that still exist; RecordsGoneError if there
    were some and none is left (MissingError later would be retried)."""
    records = env[model_name].browse(ids)
    if not ids:
        return records
    records = records.exists()
    if not records:
        raise RecordsGoneError('the %d %s record(s) %s were deleted before it ran: %s'
                               % (len(ids), model_name, whose, ids[:20]))
    return records


def error_message(error):
    """The human message of an error. Odoo's own exceptions (except_orm:
    UserError, AccessError, MissingError, ValidationError) keep it in
    ``name``: their str() is the repr of a tuple."""
    if isinstance(error, except_orm):
        return str(error.name)
    return str(error) or type(error).__name__


def job_environment(cr, job):
    """The environment of ``job`` (a ClaimedJob): its user, context and
    company. Call it inside the job's own ``api.Environment.manage()``
    block: the company is pinned for that block (service/company.py)."""
    context = json.loads(job.context or '{}')
    if job.company_id:
        context.setdefault('force_company', job.company_id)
    context['background_job_id'] = job.id
    env = api.Environment(cr, job.user_id, context)
    company.pin(env, job.user_id, job.company_id)
    return env


def call_claimed(env, job):
    """Call ``job``'s method in ``env``; its result (see call_job)."""
    return call_job(env, job.model_name, job.method_name, json.loads(job.record_ids),
                    job.args, job.kwargs)


def method_options(model_class, job):
    """(RetryPolicy, timeout or None) of the job's method on ``model_class``
    (None when its model is not installed)."""
    try:
        job_method = find_job_method(model_class, job.method_name)
    except (LookupError, TypeError):  # not a job: its call will say so
        return RetryPolicy(max_retries=job.max_retries), None
    policy = job_method.retry_policy
    if policy.max_retries != job.max_retries:  # with_delay(max_retries=...) wins
        policy = RetryPolicy(job.max_retries, policy.pattern)
    return policy, job.timeout if job.timeout is not None else job_method.timeout


def end_changes(registry, committed, cr):
    """As Odoo's requests and crons do: after a commit, tell the other
    processes which caches the job invalidated (no query when none); after
    a rollback, drop this process's invalidations. Signalled on the job's
    own cursor ``cr``: Odoo's signal_changes() borrows from the shared pool,
    which many job threads ending at once would exhaust (PoolError for HTTP)."""
    try:
        if committed:
            signal_changes(registry, cr)
        else:
            registry.reset_changes()
    except Exception:  # the job's outcome is committed or rolled back already
        _logger.exception('could not %s registry changes', 'signal' if committed else 'reset')


def signal_changes(registry, cr):
    """odoo.modules.registry.Registry.signal_changes, on ``cr``."""
    if registry.registry_invalidated or registry.cache_invalidated:
        # a registry reload empties the caches too: one signal is enough
        sequence = ('base_registry_signaling' if registry.registry_invalidated
                    else 'base_cache_signaling')
        cr.execute('SELECT nextval(%s)', [sequence])
        value = cr.fetchone()[0]
        cr.commit()
        if registry.registry_invalidated:
            registry.registry_sequence = value
        else:
            registry.cache_sequence = value
    registry.registry_invalidated = registry.cache_invalidated = False


class OdooExecutor:
    """The application of a worker's attempts (engine/worker.py Executor),
    one per database, shared by its job threads."""

    def __init__(self, dbname):
        self.dbname = dbname
        self._registry_checked = 0.0
        self._registry = None
        self._local = threading.local()

    def registry(self):
        """The database's registry, reloaded when another process changed it
        (checked every few seconds, not per job)."""
        now = time.monotonic()
        if self._registry is None or now - self._registry_checked > REGISTRY_CHECK_INTERVAL:
            self._registry_checked = now
            self._registry = odoo.registry(self.dbname).check_signaling()
        return self._registry

    def prepare(self):
        """Before each claim: load or reload the registry now (that may wait
        on Odoo's registry lock while another thread loads it, or a module
        is upgraded), never between a claim and the job's row lock."""
        self.registry()

    def options(self, job):
        return method_options(self._registry.models.get(job.model_name), job)  # see prepare()

    scope = staticmethod(api.Environment.manage)

    def cursor(self):
        # the registry whose changes the attempt ends: the job's, once it has one
        self._local.registry = self._registry  # loaded before the claim: see prepare()
        return self._thread_cursor(self._registry)

    def call(self, cr, job):
        env = job_environment(cr, job)
        self._local.registry = env.registry
        return call_claimed(env, job)

    def changes_committed(self):
        end_changes(self._local.registry, True, self._local.cursor)

    def changes_rolled_back(self):
        end_changes(self._local.registry, False, self._local.cursor)

    error_message = staticmethod(error_message)

    def jobs_failed(self, job_ids):
        """Notify the users who enqueued these jobs (queue.job._notify_failed)."""
        with api.Environment.manage(), self.registry().cursor() as cr:
            api.Environment(cr, SUPERUSER_ID, {})['queue.job'].browse(job_ids)._notify_failed()

    def _thread_cursor(self, registry):
        """The job thread's cursor (service/job_cursor.py), kept across
        jobs: borrowing a pooled connection resets it, a round trip per job
        for nothing, and drops its prepared statements."""
        cr = getattr(self._local, 'cursor', None)
        if cr is None or cr.closed:
            if cr is not None:  # closed by job code: its connection is still open
                cr.close_connection()
            cr = self._local.cursor = JobCursor(registry.db_name)
            store.mark_worker_session(cr)
            store.prepare_run(cr)
            cr.commit()
        cr.cache.clear()  # Odoo keeps per-transaction values there
        return cr

    def close_thread(self):
        """Close the calling job thread's cursor and its connection (end of
        its loop, or idle for a while)."""
        cr = getattr(self._local, 'cursor', None)
        self._local.cursor = None
        if cr is not None:
            try:
                cr.close_connection()
            except psycopg2.Error as error:
                if not connection_lost(error):  # else its outage is logged (engine/outage.py)
                    _logger.warning('could not close a job cursor cleanly', exc_info=True)


class CallerTransaction:
    """The application of jobs run at once in the caller's transaction
    (run_now, a batch run now, trap_jobs().perform()): engine/attempt.py
    ``perform_now``. ``call(job)`` calls the job's method."""

    def __init__(self, env, call):
        self.env = env
        self._call = call

    def options(self, job):
        return method_options(self.env.registry.models.get(job.model_name), job)

    def call(self, cr, job):
        return self._call(job)

    def changes_rolled_back(self):
        self.env.clear()  # the caches still hold what the job wrote

    error_message = staticmethod(error_message)

    def jobs_failed(self, job_ids):
        """Notify as a worker does, in the caller's transaction: only if it
        commits."""
        jobs = self.env['queue.job'].browse(job_ids)
        jobs.invalidate_cache(ids=job_ids)  # their rows changed in SQL
        jobs._notify_failed()


def perform_now(env, record, call):
    """Run the pending job ``record`` (a queue.job) at once in ``env``'s
    transaction (engine/attempt.py perform_now), calling ``call(job)``
    (``job``: its ClaimedJob); a failure's exception propagates."""
    try:
        attempt.perform_now(CallerTransaction(env, call), env.cr, claimed_job(record))
    finally:
        env['queue.job'].invalidate_cache()  # its row and its batches changed in SQL


def claimed_job(record):
    """The ClaimedJob of a queue.job record (its many2one fields as ids)."""
    record, values = record.sudo(), {}
    for name in (field.name for field in dataclasses.fields(store.ClaimedJob)):
        if name in record._fields and name != 'date_started':  # no attempt token: see ATTEMPT
            value = record[name]
            values[name] = (value.id or None) if isinstance(value, models.BaseModel) else value
    return store.ClaimedJob(**values)
