"""Run a claimed job in an Odoo environment (the engine's Executor)."""
import json
import logging
import threading
import time

import psycopg2

import odoo
from odoo import SUPERUSER_ID, api
from odoo.exceptions import except_orm

from ..engine import serialization, store
from ..engine.job_method import find_job_method
from ..engine.exceptions import JobLostError, NotAJobError, RecordsGoneError
from ..engine.retry import RetryPolicy
from . import company
from .enqueue import bounded_result
from .job_cursor import JobCursor

_logger = logging.getLogger(__name__)

# How often a worker checks whether another process changed the registry
# (module install/upgrade), in seconds.
REGISTRY_CHECK_INTERVAL = 5
TCP_KEEPALIVES = ('SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; '
                  'SET tcp_keepalives_count = 3')


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


def job_environment(cr, user_id, company_id, context_json, job_id):
    """The job's environment: its user, context and company. Call it inside
    the job's own ``api.Environment.manage()`` block: the company is pinned
    for that block (service/company.py)."""
    context = json.loads(context_json or '{}')
    if company_id:
        context.setdefault('force_company', company_id)
    context['background_job_id'] = job_id
    env = api.Environment(cr, user_id, context)
    company.pin(env, user_id, company_id)
    return env


def end_changes(registry, committed):
    """As Odoo's requests and crons do: after a commit, tell the other
    processes which caches the job invalidated (no query when none); after
    a rollback, drop this process's invalidations."""
    try:
        if committed:
            registry.signal_changes()
        else:
            registry.reset_changes()
    except Exception:  # the job's outcome is committed or rolled back already
        _logger.exception('could not %s registry changes', 'signal' if committed else 'reset')


class OdooExecutor:
    """perform() runs one job in its own Odoo transaction."""

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

    def job_options(self, job):
        model_class = self._registry.models.get(job.model_name)  # see prepare()
        try:
            job_method = find_job_method(model_class, job.method_name)
        except (LookupError, TypeError):  # not a job: perform() will say so
            return RetryPolicy(max_retries=job.max_retries), None
        policy = job_method.retry_policy
        if policy.max_retries != job.max_retries:  # with_delay(max_retries=...) wins
            policy = RetryPolicy(job.max_retries, policy.pattern)
        return policy, (job.timeout or job_method.timeout)

    def jobs_failed(self, job_ids):
        """Notify the users who enqueued these jobs (queue.job._notify_failed)."""
        with api.Environment.manage(), self.registry().cursor() as cr:
            api.Environment(cr, SUPERUSER_ID, {})['queue.job'].browse(job_ids)._notify_failed()

    error_message = staticmethod(error_message)

    def perform(self, job, worker_id, timeout, on_error):
        registry = self._registry  # loaded before the claim: see prepare()
        cr = self._thread_cursor(registry)
        locked = False
        with api.Environment.manage():
            try:
                locked = store.lock_for_run(cr, job.id, worker_id, timeout)
                if not locked:
                    cr.abort()
                    return False
                env = job_environment(cr, job.user_id, job.company_id, job.context, job.id)
                registry = env.registry
                result = call_job(env, job.model_name, job.method_name,
                                  json.loads(job.record_ids), job.args, job.kwargs)
                if not store.finish_run(cr, job.id, worker_id, bounded_result(result)):
                    raise JobLostError('its row was no longer started by this worker')
            except JobLostError as error:
                self._abort(cr, error)
                end_changes(registry, committed=False)
                _logger.warning('job %s (%s.%s) stopped, not marked done: %s',
                                job.uuid, job.model_name, job.method_name, error)
                return False
            except Exception as error:
                failed = self._record_failure(job, cr, error, on_error) if locked else None
                if failed is None:
                    self._abort(cr, error)
                end_changes(registry, committed=False)
                if failed is None:
                    raise
                return failed
        end_changes(registry, committed=True)
        return False

    def _record_failure(self, job, cr, error, on_error):
        """Roll the job's work back to just after its row lock, record the
        failure with ``on_error`` in that transaction and commit, so the
        reaper never sees the failed job unlocked. None if that failed (the
        worker then records it on its own connection)."""
        try:
            cr.undo_job()
            failed = on_error(cr, error)
            cr.commit_job()
            return failed
        except Exception:
            _logger.warning('could not record the failure of job %s in its own transaction',
                            job.uuid, exc_info=True)
            return None

    def _abort(self, cr, error):
        try:
            cr.abort()
        except psycopg2.Error:
            self.close_thread()
        if isinstance(error, (psycopg2.OperationalError, psycopg2.InterfaceError)):
            self.close_thread()  # the connection may be broken: get a new one

    def _thread_cursor(self, registry):
        """The job thread's cursor (service/job_cursor.py), kept across
        jobs: borrowing a pooled connection resets it, a round trip per job
        for nothing, and drops its prepared statements."""
        cr = getattr(self._local, 'cursor', None)
        if cr is None or cr.closed:
            if cr is not None:  # closed by job code: its connection is still open
                cr.close_connection()
            cr = self._local.cursor = JobCursor(registry.db_name)
            # A job's row lock is its proof of life: if this machine is lost,
            # PostgreSQL must notice and release it within ~25 s (TCP only).
            cr.execute(TCP_KEEPALIVES)
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
            except psycopg2.Error:
                _logger.warning('could not close a job cursor cleanly', exc_info=True)
