"""The only module that runs the engine's SQL (engine/sql.py).

Functions take a DB-API cursor and never commit: the caller owns the
transaction (the worker loop, or the Odoo request that calls delay()).
"""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import weakref
from typing import Iterable, Optional

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from . import serialization, sql, sql_admin, sql_batch

_logger = logging.getLogger(__name__)

# How often a statement that sets jobs back to pending is tried before it is
# given up (or run row by row): see sql.SUPERSEDING_JOB.
REQUEUE_ATTEMPTS = 3


class ChannelFull(Exception):
    """Raised when a claim would exceed its channel's capacity."""


class NotRecorded(Exception):
    """Raised when a job's failure could not be recorded: its update kept
    failing on a constraint (see sql.SUPERSEDING_JOB)."""


@dataclasses.dataclass(frozen=True)
class ClaimedJob:
    """A job as the worker needs it to run."""
    id: int
    uuid: str
    model_name: str
    method_name: str
    record_ids: str
    args: str
    kwargs: str
    context: str
    user_id: int
    company_id: Optional[int]
    channel: str
    retry: int
    max_retries: int
    timeout: int
    parent_id: Optional[int] = None  # the batch the job belongs to
    capacity: Optional[int] = None  # of the job's channel when claimed (0/None: no limit)


# cursor -> the enqueue statement to use on it (sql.PREPARE_ENQUEUE)
_enqueue_statements = weakref.WeakKeyDictionary()


def _enqueue_statement(cr) -> str:
    """The plain insert for a cursor's first job, the prepared one after."""
    try:
        statement = _enqueue_statements.get(cr)
    except TypeError:  # a cursor that takes no weak reference: never prepared
        return sql.ENQUEUE
    if statement is None:
        _enqueue_statements[cr] = 'prepare'
        return sql.ENQUEUE
    if statement == 'prepare':
        cr.execute(sql.ENQUEUE_IS_PREPARED)
        if not cr.fetchone()[0]:
            cr.execute(sql.PREPARE_ENQUEUE)
        statement = _enqueue_statements[cr] = sql.EXECUTE_ENQUEUE
    return statement


def enqueue(cr, values: dict) -> int:
    """Insert one job (see sql.ENQUEUE for the keys); returns its id, or the
    id of the waiting/pending job that already has its identity_key."""
    cr.execute(_enqueue_statement(cr), values)
    row = cr.fetchone()
    if row:
        return row[0]
    cr.execute(sql.FIND_BY_IDENTITY, values)
    row = cr.fetchone()
    if row is None:  # the other job left the pending state meanwhile
        raise RuntimeError('identity key %r conflicted but no pending job has it'
                           % values['identity_key'])
    return row[0]


def prepare_claim(cr) -> None:
    """Prepare the claims once per connection, before claim()."""
    cr.execute(sql.PREPARE_CLAIM)
    cr.execute(sql.PREPARE_CLAIM_UNLIMITED)


def limited_channels_exist(cr) -> bool:
    cr.execute(sql.LIMITED_CHANNELS_EXIST)
    return cr.fetchone()[0]


def claim_unlimited(cr, worker_id: int) -> Optional[ClaimedJob]:
    """Claim the next job of a channel without capacity, in one autocommitted
    statement (``cr`` on an autocommit connection); see sql.CLAIM_UNLIMITED."""
    cr.execute(sql.CLAIM_UNLIMITED, {'worker_id': worker_id})
    row = cr.fetchone()
    return ClaimedJob(*row) if row else None


def claim(cr, worker_id: int) -> Optional[ClaimedJob]:
    """Claim the next runnable job for this worker, in a transaction of its
    own on an AUTOCOMMIT connection (the one exception to "the caller owns
    the transaction"): BEGIN travels with the claim and COMMIT alone, two
    round trips where psycopg2's implicit BEGIN would make three.

    None when no job is runnable. Raises ChannelFull, rolled back, when a
    concurrent claim took the channel's last slot.
    """
    cr.execute(sql.BEGIN_CLAIM, {'worker_id': worker_id})
    row = cr.fetchone()
    if row is None:
        cr.execute('COMMIT')
        return None
    job = ClaimedJob(*row)
    capacity = job.capacity
    if capacity:
        cr.execute(sql.CAPACITY_CHECK, {'channel': job.channel})
        if cr.fetchone()[0] > capacity:
            cr.execute('ROLLBACK')
            raise ChannelFull(job.channel)
    cr.execute('COMMIT')
    return job


def prepare_run(cr) -> None:
    """Prepare lock_for_run and finish_run once per connection."""
    cr.execute(sql.PREPARE_RUN)


def lock_for_run(cr, job_id: int, worker_id: int, timeout_seconds: int) -> bool:
    """Lock the claimed job's row in the job's own transaction, and in any
    later one if the job commits on its own (``cr``: the worker's job
    cursor, service/job_cursor.py); False if the job is no longer this
    worker's to run. Needs prepare_run()."""
    cr.execute_and_hold(sql.EXECUTE_LOCK_FOR_RUN, {
        'id': job_id, 'worker_id': worker_id,
        'timeout_ms': str(max(0, int(timeout_seconds * 1000)))})
    return cr.fetchone() is not None


def finish_run(cr, job_id: int, worker_id: int, result: Optional[str]) -> bool:
    """Mark the job done and commit its transaction, in one round trip: the
    one other exception to "the caller owns the transaction", for the
    worker's job cursor (service/job_cursor.py). False, nothing committed
    and the transaction still open, if the row is no longer this worker's
    started job (sql.FINISH_RUN). Needs prepare_run()."""
    try:
        cr.execute_and_commit(sql.EXECUTE_FINISH_RUN, {
            'id': job_id, 'worker_id': worker_id, 'result': result})
    except psycopg2.errors.DivisionByZero:  # FINISH_RUN's "no row" signal
        return False
    return True


def mark_done(cr, job_id: int, result: Optional[str]) -> None:
    cr.execute(sql.MARK_DONE, {'id': job_id, 'result': result})


def record_immediate_result(cr, job_id: int, result: Optional[str]) -> None:
    cr.execute(sql.RECORD_IMMEDIATE_RESULT, {'id': job_id, 'result': result})


def mark_failed(cr, job_id: int, worker_id: int, *, retry: bool, delay: float,
                count_retry: bool, exec_time: float, exc_type: str,
                exc_message: str, exc_info: str) -> bool:
    """Record a failure: back to pending after ``delay`` seconds when
    ``retry`` (cancelled if another job took its identity_key meanwhile),
    else failed for good. False if the job was not ours anymore; NotRecorded
    if the update kept failing. In a REPEATABLE READ transaction (the job's
    own) a job that took the identity_key after the snapshot is never seen:
    the caller records the failure again in a READ COMMITTED one."""
    count = _requeue(cr, sql.MARK_FAILED, {
        'id': job_id, 'worker_id': worker_id, 'state': 'pending' if retry else 'failed',
        'retry_increment': 1 if count_retry else 0, 'delay': float(delay),
        'exec_time': exec_time, 'exc_type': exc_type,
        'exc_message': serialization.storable_text(exc_message),
        'exc_info': serialization.storable_text(exc_info)}, job_id)
    if count is None:
        raise NotRecorded(job_id)
    return count == 1


def release(cr, job_id: int, worker_id: int) -> None:
    _requeue(cr, sql.RELEASE, {'id': job_id, 'worker_id': worker_id}, job_id)


def requeue_orphans(cr, dead_after: float, dead_worker_ids: Iterable[int] = ()) -> list:
    """Requeue (or fail) jobs whose worker died; returns [(id, new state)].
    A job that cannot be requeued is logged and left for the next pass:
    it never keeps the others from being requeued."""
    params = {'dead_after': float(dead_after), 'dead_worker_ids': list(dead_worker_ids),
              'job_ids': None}
    rows = _requeue(cr, sql.REQUEUE_ORPHANS, params, 'orphans', attempts=1)
    if rows is not None:
        return rows
    cr.execute(sql.LIST_ORPHANS, params)
    return _requeue_each(cr, sql.REQUEUE_ORPHANS, params, 'job_ids',
                         [row[0] for row in cr.fetchall()])


# Errors of one bad row (a constraint, a value); the others (the
# connection, a conflict between transactions, a bug) go up.
_ROW_ERRORS = (psycopg2.IntegrityError, psycopg2.DataError)
_savepoint_names = itertools.count(1)


@contextlib.contextmanager
def _subtransaction(cr):
    """A savepoint inside a transaction; on an autocommit connection outside
    one, nothing (each statement is a transaction of its own there)."""
    connection = cr.connection
    if connection.autocommit and (connection.get_transaction_status()
                                  == psycopg2.extensions.TRANSACTION_STATUS_IDLE):
        yield
        return
    name = 'background_job_%d' % next(_savepoint_names)
    cr.execute('SAVEPOINT ' + name)
    try:
        yield
    except BaseException:
        cr.execute('ROLLBACK TO SAVEPOINT ' + name)
        raise
    cr.execute('RELEASE SAVEPOINT ' + name)


def _requeue(cr, statement: str, params: dict, what, attempts: int = REQUEUE_ATTEMPTS):
    """Run a statement that may set jobs back to pending (see
    sql.SUPERSEDING_JOB): its rows, or its row count when it returns none;
    None if it kept failing on a bad row (logged). Statements on many rows
    are tried once: then row by row (_requeue_each)."""
    for attempt in range(1, attempts + 1):
        try:
            with _subtransaction(cr):
                cr.execute(statement, params)
                return cr.fetchall() if cr.description else cr.rowcount
        except _ROW_ERRORS as error:
            _logger.warning('job(s) %s: attempt %d of %d failed: %s',
                            what, attempt, attempts, error)
    return None


def _requeue_each(cr, statement: str, params: dict, ids_key: str, ids: list) -> list:
    """Run ``statement`` for each of ``ids`` on its own: each sees the ones
    before (a second job with the same identity_key is superseded by the
    first), and a bad row is logged and skipped."""
    rows = []
    for job_id in ids:
        result = _requeue(cr, statement, dict(params, **{ids_key: [job_id]}), job_id)
        if result is None:
            _logger.error('job %s could not be requeued; it is left as it is', job_id)
        else:
            rows += result
    return rows


def register_worker(cr, uuid: str, host: str, pid: int, threads: int) -> int:
    cr.execute(sql.REGISTER_WORKER, {'uuid': uuid, 'host': host, 'pid': pid,
                                     'threads': threads})
    return cr.fetchone()[0]


def heartbeat(cr, worker_id: int) -> bool:
    """False when the worker's row is gone (removed by an admin or a purge)."""
    cr.execute(sql.HEARTBEAT, {'worker_id': worker_id})
    return cr.rowcount == 1


def unregister_worker(cr, worker_id: int) -> None:
    cr.execute(sql.UNREGISTER_WORKER, {'worker_id': worker_id})


def local_workers(cr, host: str, worker_id: int) -> list:
    """[(id, pid)] of the other workers of this host that have started jobs."""
    cr.execute(sql.LOCAL_WORKERS, {'host': host, 'worker_id': worker_id})
    return cr.fetchall()


def purge_workers(cr, days: int) -> int:
    """Remove rows of workers gone for ``days`` days that no job refers to."""
    cr.execute(sql.PURGE_WORKERS, {'days': days})
    return cr.rowcount


def ensure_channels(cr, capacities: dict) -> None:
    for name, capacity in capacities.items():
        cr.execute(sql.ENSURE_CHANNEL, {'name': name, 'capacity': capacity})


def seconds_to_next_eta(cr) -> Optional[float]:
    cr.execute(sql.NEXT_ETA)
    return cr.fetchone()[0]


def purge_finished(cr, days: int, limit: int = 10000) -> int:
    cr.execute(sql.PURGE_FINISHED, {'days': days, 'limit': limit})
    return cr.rowcount


# -- batches (engine/batch.py) ---------------------------------------------------
def enqueue_batch(cr, values: dict, ids: Iterable[int], job_size: int,
                  done_method: Optional[str], job_res_id: Optional[int],
                  batch_name: str, child_state: str = 'pending') -> tuple:
    """Insert a batch and its children (``values``: the keys of sql.ENQUEUE,
    shared by the children); returns (batch id, number of children)."""
    params = dict(values, ids='{%s}' % ','.join(str(int(i)) for i in ids),
                  job_size=job_size, done_method=done_method,
                  job_res_id=job_res_id or None, batch_name=batch_name,
                  child_state=child_state)
    cr.execute(sql_batch.ENQUEUE_BATCH, params)
    batch_id, children, _ = cr.fetchone()
    return batch_id, children


def batch_of_job(cr, job_id: int) -> Optional[int]:
    """The batch this job belongs to (a batch it starts joins it)."""
    cr.execute(sql_batch.BATCH_OF_JOB, {'job_id': job_id})
    row = cr.fetchone()
    return row[0] if row else None


def batches_of_jobs(cr, job_ids: Iterable[int]) -> list:
    """The batches these ended jobs may have ended: the batches they belong
    to, and the batches whose done job they are."""
    cr.execute(sql_batch.BATCHES_OF_JOBS, {'job_ids': list(job_ids)})
    return [row[0] for row in cr.fetchall()]


def finish_batches(cr, batch_ids: Optional[Iterable[int]], **execute_options) -> list:
    """End the complete batches among ``batch_ids`` (None: all of them):
    enqueue their done method, or mark them done. Run it in a transaction
    that began after the finishing child's committed (see
    sql_batch.LOCK_COMPLETE_BATCHES). Returns the outer batches of the batches that
    ended here (done, failed or cancelled): they may be complete now, check them next, in a new
    transaction once this one committed. ``execute_options`` go to
    ``cr.execute`` (the cron passes Odoo's ``log_exceptions=False``: a
    serialization failure there is expected and handled)."""
    if batch_ids is not None:
        batch_ids = list(batch_ids)
        if not batch_ids:
            return []
    cr.execute(sql_batch.LOCK_COMPLETE_BATCHES, {'batch_ids': batch_ids}, **execute_options)
    locked = [row[0] for row in cr.fetchall()]
    if not locked:
        return []
    cr.execute(sql_batch.FINISH_BATCHES, {
        'batch_ids': locked, 'done_job_model': sql_batch.DONE_JOB_MODEL,
        'done_job_method': sql_batch.DONE_JOB_METHOD,
        'done_job_max_retries': sql_batch.DONE_JOB_MAX_RETRIES}, **execute_options)
    return sorted({outer for _, outer, state, _, _ in cr.fetchall()
                   if outer and state != 'waiting'})


def lock_batch_for_done(cr, batch_id: int, done_job_id: Optional[int]) -> bool:
    """In the done job's transaction: False if the batch no longer waits
    for this done job (requeued or cancelled since)."""
    cr.execute(sql_batch.LOCK_BATCH_FOR_DONE, {'batch_id': batch_id, 'done_job_id': done_job_id})
    return cr.fetchone() is not None


def mark_batch_done(cr, batch_id: int, done_job_id: Optional[int]) -> None:
    cr.execute(sql_batch.MARK_BATCH_DONE, {'batch_id': batch_id, 'done_job_id': done_job_id})


def batch_progress(cr, batch_ids: Iterable[int]) -> dict:
    """{batch id: {child state: count}}."""
    cr.execute(sql_batch.BATCH_PROGRESS, {'batch_ids': list(batch_ids)})
    counts: dict = {}
    for batch_id, state, count in cr.fetchall():
        counts.setdefault(batch_id, {})[state] = count
    return counts


def cancel_batches(cr, batch_ids: Iterable[int]) -> list:
    """Cancel waiting batches (see sql_batch.CANCEL_BATCHES); returns their outer
    batches, to check for completion."""
    cr.execute(sql_batch.CANCEL_BATCHES, {'batch_ids': list(batch_ids)})
    return [row[0] for row in cr.fetchall()]


def requeue_batches(cr, batch_ids: Iterable[int]) -> list:
    """Requeue failed and cancelled children (see sql_batch.REQUEUE_BATCHES);
    returns the batches that wait again."""
    cr.execute(sql_batch.REQUEUE_BATCHES, {
        'batch_ids': list(batch_ids), 'done_job_model': sql_batch.DONE_JOB_MODEL,
        'done_job_method': sql_batch.DONE_JOB_METHOD})
    return [row[0] for row in cr.fetchall()]


# -- admin actions -------------------------------------------------------------
def admin_requeue(cr, job_ids: Iterable[int], from_states: Iterable[str],
                  top_priority: bool = False) -> list:
    """Requeue the jobs that are in ``from_states`` and not locked (under the
    supersede rule, sql.back_to_pending); wakes the workers on commit.
    Returns the ids changed; a job that cannot be requeued is logged and
    left out."""
    params = {'ids': list(job_ids), 'from_states': list(from_states),
              'top_priority': top_priority}
    rows = _requeue(cr, sql_admin.ADMIN_REQUEUE, params, 'requeue', attempts=1)
    if rows is None:
        rows = _requeue_each(cr, sql_admin.ADMIN_REQUEUE, params, 'ids', params['ids'])
    return [row[0] for row in rows]


def admin_cancel(cr, job_ids: Iterable[int], from_states: Iterable[str]) -> list:
    cr.execute(sql_admin.ADMIN_CANCEL, {'ids': list(job_ids), 'from_states': list(from_states)})
    return [row[0] for row in cr.fetchall()]


def admin_set_done(cr, job_ids: Iterable[int], from_states: Iterable[str],
                   result: str) -> list:
    cr.execute(sql_admin.ADMIN_SET_DONE, {'ids': list(job_ids), 'from_states': list(from_states),
                                    'result': result})
    return [row[0] for row in cr.fetchall()]


def lock_nowait(cr, job_ids: Iterable[int], delete: bool = False, **execute_options) -> None:
    """Lock the jobs' rows or raise psycopg2's LockNotAvailable at once.
    ``execute_options`` go to ``cr.execute`` (with Odoo's cursor,
    ``log_exceptions=False``: the lock error is expected, not a bad query)."""
    statement = sql_admin.LOCK_FOR_DELETE_NOWAIT if delete else sql_admin.LOCK_FOR_WRITE_NOWAIT
    cr.execute(statement, {'ids': list(job_ids)}, **execute_options)


def channel_load(cr, channels: Iterable[str]) -> dict:
    """{channel: (running, pending)} for the named channels that have jobs."""
    cr.execute(sql_admin.CHANNEL_LOAD, {'channels': list(channels)})
    return {name: (running, pending) for name, running, pending in cr.fetchall()}
