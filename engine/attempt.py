"""One job attempt, from its row lock to its outcome.

A worker's attempt (:func:`perform`), on the job thread's cursor
(service/job_cursor.py), in the job's own transaction:

1. lock the claimed row (store.lock_for_run; BEGIN travels with it), or stop
   if the job is no longer this worker's;
2. call the job (the application builds its environment and calls its
   method); the progress it reports (engine/progress.py) is written on the
   worker's connection, never in this transaction, and once more when the
   attempt ends;
3. done: the done update travels with COMMIT (store.finish_run); a row that
   is no longer the job's makes that fail: JobLostError, rolled back;
4. on an error: roll the job's work back to just after the lock (the row
   stays locked, so the reaper cannot requeue the job meanwhile), record the
   failure as ``RetryPolicy.decide`` says (pending again after a delay, or
   failed for good) and commit; if that is not possible, roll back and
   record it in a READ COMMITTED transaction on the worker's connection;
5. report a job failed for good (the application notifies who enqueued it),
   then end the batches the job may have ended, each level in a transaction
   of its own that begins after the job's committed, and re-check its dependents.

The runner's watchdog (engine/watchdog.py) may take an attempt over: at its
time limit, after a Stop, at shutdown. The control thread then ends the
job's connection and records the outcome (:func:`end_taken_over`: the
same record_failure, report and batch endings; a shutdown requeues); the
job thread records nothing of that attempt.

Jobs run at once in the caller's transaction (run_now, a batch run now,
``trap_jobs().perform()``) go through the same outcome functions
(:func:`perform_now`): the same RetryDecision, the same failure statement,
the same report and batch endings, in that transaction; their exception
then propagates to the caller.

The application side (Odoo: service/executor.py) is the :class:`Application`
protocol: what only it knows, the job's environment and method, its options,
how to notify.
"""
from __future__ import annotations

import itertools
import logging
import time
import traceback
from typing import Any, ContextManager, Optional, Protocol, Tuple

import psycopg2

from . import batch, defaults, graph, progress, serialization, store
from .exceptions import JobInterrupted, JobLostError
from .outage import connection_lost
from .retry import RetryPolicy
from .transaction import transaction
from .watchdog import SHUTDOWN, Watchdog

_logger = logging.getLogger(__name__)

# The worker_id of a job run in the caller's transaction: no worker row has
# it, and the row never commits with it (the attempt ends done, without a
# worker, or failed, which sets worker_id back to NULL). Only a failure that
# could not be recorded (store.NotRecorded) leaves it: if the caller
# commits, the reaper requeues that job as a dead worker's.
CALLER = 0

_savepoint_names = itertools.count(1)


class Application(Protocol):
    """What the application that runs jobs (Odoo) knows, for every path."""

    def options(self, job: store.ClaimedJob) -> Tuple[RetryPolicy, Optional[int]]:
        """(RetryPolicy, timeout or None) of the job's method; never waits."""

    def call(self, cr, job: store.ClaimedJob) -> Any:
        """Call the job's method in its environment on ``cr``; its result."""

    def changes_rolled_back(self) -> None:
        """The job's work was rolled back: drop what the application
        remembered of it (caches)."""

    def error_message(self, error: BaseException) -> str:
        """The human message of a job's exception."""

    def jobs_failed(self, job_ids: list) -> None:
        """These jobs failed for good (committed, or in the caller's
        transaction): tell people."""


class WorkerApplication(Application, Protocol):
    """What a worker's attempt needs on top: the job thread's cursor."""

    def scope(self) -> ContextManager:
        """What a whole attempt runs in (Odoo: its environments' life)."""

    def cursor(self):
        """The job thread's cursor (service/job_cursor.py), kept across jobs."""

    def changes_committed(self) -> None:
        """The job's work committed: tell the application's other processes."""

    def close_thread(self) -> None:
        """Close the job thread's cursor and its connection."""


class Interrupted(Exception):
    """An attempt whose failure its own transaction did not record. Raised
    by perform() when the connection was lost before that failure could be
    recorded on the worker's connection either: its job stays started, not
    locked (its transaction died with its session). The worker records it
    with record_interrupted() once it has reconnected."""

    def __init__(self, job: store.ClaimedJob, error: BaseException, policy: RetryPolicy,
                 started: float):
        super().__init__('job %s interrupted: %s' % (job.id, error))
        self.job, self.error, self.policy = job, error, policy
        self.ran = time.monotonic() - started  # the attempt's own time


# -- a worker's attempt --------------------------------------------------------
def perform(app: WorkerApplication, connection, job: store.ClaimedJob, worker_id: int,
            default_timeout: int, watchdog: Watchdog) -> bool:
    """Run one claimed job to its outcome, report it, end the batches it
    ended (``connection``: the job thread's autocommit connection), under
    ``watchdog``'s eye: an attempt it takes over (time limit, Stop,
    shutdown) is ended and recorded by the control thread instead
    (:func:`end_taken_over`). Failures are recorded, never raised;
    Interrupted when the connections are lost before the outcome is. True
    if the calling thread was abandoned meanwhile: it must stop working."""
    started = time.monotonic()
    policy, timeout = job_options(app, job, default_timeout)
    running = watchdog.begin(job, timeout, policy, started)
    try:
        _perform_watched(app, connection, job, worker_id, running)
    finally:
        abandoned = watchdog.end(running)
    return abandoned


def _perform_watched(app, connection, job, worker_id, running) -> None:
    policy, started = running.policy, running.started
    try:
        # progress is written on ``connection``, idle while the job runs
        with app.scope(), progress.reporting(job.id, progress.on_connection(connection)):
            failed = _run_locked(app, job, worker_id, running.timeout, policy, started, running)
    except JobInterrupted:  # taken over: the watchdog records the outcome
        _ended_by_watchdog(app)
        return
    except Exception as error:  # rolled back, not recorded: record it now
        if not running.own_outcome():
            _ended_by_watchdog(app)
            return
        record_interrupted(app, connection, Interrupted(job, error, policy, started), worker_id)
        return
    _report_and_end_batches(app, connection, job, failed)


def record_interrupted(app: WorkerApplication, connection, interrupted: Interrupted,
                       worker_id: int) -> None:
    """Record an attempt whose outcome its own transaction could not
    record, on ``connection`` (the job thread's, or a new one after an
    outage): failed as its policy decides (a lost connection is retried
    after about a second), unless its done update had committed after all;
    then report it and end its batches. Interrupted if ``connection`` is
    lost too."""
    job = interrupted.job
    try:
        failed = _record_on_connection(app, connection, job, worker_id, interrupted.error,
                                       interrupted.policy, time.monotonic() - interrupted.ran)
    except Exception as error:
        if connection_lost(error):
            raise interrupted from error
        raise
    _report_and_end_batches(app, connection, job, failed)


def _report_and_end_batches(app, connection, job, failed) -> None:
    if failed:
        report_failed(app, [job.id])
    ended = batch.batches_ended_by(job)
    if ended:
        finish_batches(connection, ended)
    store.recheck_dependents(connection, graph.waited_for(job))


def _ended_by_watchdog(app) -> None:
    """The attempt was taken over: its connection was ended, and its outcome
    is the watchdog's to record. Drop what the application kept of it."""
    app.changes_rolled_back()
    app.close_thread()


def job_options(app: Application, job, default_timeout):
    """(RetryPolicy, timeout) of the job; a job whose options cannot be
    read fails as any job (with the default policy)."""
    try:
        policy, timeout = app.options(job)
    except Exception:
        policy, timeout = RetryPolicy(), None
    return policy, default_timeout if timeout is None else timeout


def _run_locked(app, job, worker_id, timeout, policy, started, running) -> bool:
    """Steps 1 to 4 in the job's transaction; True if it failed for good.
    Raises the job's exception, rolled back, when its failure could not be
    recorded in that transaction; JobInterrupted when the watchdog took the
    attempt over."""
    cr = app.cursor()
    running.backend_pid = cr.backend_pid()
    locked = False
    try:
        locked = store.lock_for_run(cr, job, worker_id, timeout)
        if not locked:
            cr.abort()
            return False
        with running.job_code():
            result = app.call(cr, job)
        if not store.finish_run(cr, job.id, worker_id, bounded_result(result)):
            raise JobLostError('its row was no longer started by this worker')
    except JobLostError as error:
        _abort(app, cr, error)
        app.changes_rolled_back()
        _logger.warning('job %s (%s.%s) stopped, not marked done: %s',
                        job.uuid, job.model_name, job.method_name, error)
        return False
    except Exception as error:
        if not running.own_outcome():
            raise JobInterrupted() from error
        # on a lost connection, nothing can be recorded in the job's transaction
        failed = _record_in_job_transaction(app, cr, job, worker_id, error, policy, started) \
            if locked and not connection_lost(error) else None
        if failed is None:
            _abort(app, cr, error)
        app.changes_rolled_back()
        if failed is None:
            raise
        return failed
    app.changes_committed()
    return False


def end_taken_over(app: Application, connection, running, worker_id: int) -> None:
    """The outcome of an attempt the watchdog took over (engine/watchdog.py),
    once the job's connection was ended, on the runner's ``connection``: a
    shutdown requeues the job at once (no retry counted); a time limit or a
    Stop is recorded as the job thread would have (JobTimeoutError, retried
    per the job's policy; JobStoppedError, cancelled), reported, and the
    batches it ended end."""
    job = running.job
    if running.ended == SHUTDOWN:
        with transaction(connection) as cr:
            store.release(cr, job.id, worker_id, job.date_started)
        _logger.warning('job %s (%s.%s) still ran at shutdown: ended and requeued',
                        job.uuid, job.model_name, job.method_name)
        return
    _logger.warning('job %s (%s.%s) %s: its transaction was ended',
                    job.uuid, job.model_name, job.method_name, running.error)
    failed = _record_on_connection(app, connection, job, worker_id, running.error,
                                   running.policy, running.started)
    _report_and_end_batches(app, connection, job, failed)


def _record_in_job_transaction(app, cr, job, worker_id, error, policy, started):
    """Roll the job's work back to just after its row lock, record the
    failure in that transaction and commit, so the reaper never sees the
    failed job unlocked. None if that failed (_record_on_connection then)."""
    try:
        cr.undo_job()
        failed = record_failure(app, cr, job, worker_id, error, policy, started)
        cr.commit_job()
        return failed
    except Exception:
        _logger.warning('could not record the failure of job %s in its own transaction',
                        job.uuid, exc_info=True)
        return None


def _record_on_connection(app, connection, job, worker_id, error, policy, started) -> bool:
    """Record the failure in a READ COMMITTED transaction on the worker's
    connection: a job that took the identity_key after the job's snapshot
    is seen there (store.mark_failed). False if it could not be."""
    try:
        with transaction(connection) as cr:
            return record_failure(app, cr, job, worker_id, error, policy, started)
    except store.NotRecorded:  # logged by store; the reaper retries the job
        return False


def _abort(app, cr, error) -> None:
    try:
        cr.abort()
    except psycopg2.Error:
        app.close_thread()
    if connection_lost(error):
        app.close_thread()  # get a new one (a serialization failure, say, keeps it)


# -- jobs run in the caller's transaction --------------------------------------
def perform_now(app: Application, cr, job: store.ClaimedJob) -> None:
    """Run the pending ``job`` at once in the caller's transaction ``cr``,
    with a worker's outcomes: done; or its work rolled back to a savepoint
    taken before it ran, its failure recorded as a worker records it (and
    reported), then its exception raised. Either way the batches it ended
    then end, in ``cr``'s transaction. No time limit: the caller's
    transaction is not the job's."""
    started = time.monotonic()
    policy, _timeout = job_options(app, job, None)
    if not store.start_now(cr, job.id, CALLER):  # ended meanwhile (an earlier job's doing)
        return
    savepoint = 'background_job_now_%d' % next(_savepoint_names)
    cr.execute('SAVEPOINT ' + savepoint)
    # its progress is written once, at the end (after a failure's rollback)
    with progress.reporting(job.id, progress.in_transaction(cr), interval=None):
        try:
            result = app.call(cr, job)
        except Exception as error:
            cr.execute('ROLLBACK TO SAVEPOINT ' + savepoint)
            app.changes_rolled_back()
            _record_now(app, cr, job, error, policy, started)
            raise
    cr.execute('RELEASE SAVEPOINT ' + savepoint)
    if not store.finish_now(cr, job.id, CALLER, bounded_result(result),
                            time.monotonic() - started):  # the job changed its own row
        raise JobLostError('job %s: its row was no longer started by this call' % job.id)
    batch.finish_batches(cr, batch.batches_ended_by(job))


def _record_now(app, cr, job, error, policy, started) -> None:
    try:
        failed = record_failure(app, cr, job, CALLER, error, policy, started)
    except store.NotRecorded:  # logged by store; the row stays started (see CALLER)
        failed = False
    if failed:
        report_failed(app, [job.id])
    batch.finish_batches(cr, batch.batches_ended_by(job))


# -- outcomes, the same on every path -------------------------------------------
def record_failure(app: Application, cr, job, worker_id: int, error: BaseException,
                   policy: RetryPolicy, started: float) -> bool:
    """Record the failed attempt in ``cr``'s transaction as ``policy``
    decides: pending again after a delay, or failed for good. True if it
    failed for good (to report once committed)."""
    decision = policy.decide(job.retry, error)
    message = app.error_message(error)
    log = _logger.info if decision.retry else _logger.error
    log('job %s (%s.%s) failed%s: %s', job.uuid, job.model_name, job.method_name,
        ', retry in %ss' % decision.delay if decision.retry else '', message)
    recorded = store.mark_failed(
        cr, job.id, worker_id, retry=decision.retry, delay=decision.delay,
        cancel=decision.cancel, date_started=job.date_started,
        exec_time=time.monotonic() - started,
        exc_type=type(error).__name__, exc_message=message, exc_info=failure_traceback(error))
    if not recorded:
        _logger.warning('job %s was no longer this worker\'s: its failure is not recorded',
                        job.uuid)
    return recorded and not decision.retry and not decision.cancel


def failure_traceback(error: BaseException) -> str:
    """The traceback stored with a failure: the error's own, or, for an
    attempt the watchdog ended, where the job was at that moment."""
    stack = getattr(error, 'stack', None)
    if stack:
        return stack + ''.join(traceback.format_exception_only(type(error), error))
    return ''.join(traceback.format_exception(type(error), error, error.__traceback__))


def report_failed(app: Application, job_ids: list) -> None:
    """Pass jobs that failed for good to the application; a problem there
    (e.g. the notification) is logged and never stops the worker."""
    try:
        app.jobs_failed(job_ids)
    except Exception:
        _logger.exception('could not report failed jobs %s', job_ids)


def finish_batches(connection, batch_ids) -> None:
    """After a job's transaction committed: end the complete batches among
    ``batch_ids`` (done method enqueued, or done), then the batches around
    them (nested batches), on ``connection`` (autocommit): one transaction
    per level, each beginning after the previous one committed (see
    store.finish_batches)."""
    while batch_ids:
        with transaction(connection) as cr:
            batch_ids = store.finish_batches(cr, batch_ids)


def bounded_result(result, limit=defaults.RESULT_MAX_CHARS) -> Optional[str]:
    """The text stored as a job's result: whatever the job returned, it must
    not fail the done update (the job's work would be rolled back)."""
    if result is None:
        return None
    try:
        text = result if isinstance(result, str) else repr(result)
    except Exception as error:  # a broken __repr__ must not undo the job's work
        text = '<%s object; its repr() raised %r>' % (type(result).__name__, error)
    text = serialization.storable_text(text)
    return text if len(text) <= limit else text[:limit] + '... (%d characters)' % len(text)
