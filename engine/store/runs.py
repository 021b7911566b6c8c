"""A job's run: the statements that claim a job, lock it in its own
transaction, end it done, record its failure (a retry or the end) or give
it back, each next to the function that runs it."""
from __future__ import annotations

import contextlib
from typing import Optional

import psycopg2.errors

from .. import defaults, job_row, serialization
from ..job_row import CLOCK_UTC, NOW_UTC, ClaimedJob
from . import channels, lock_keys, supersede
from .jobs import NOTIFY_CHANNEL


class ClaimRefused(Exception):
    """Raised when a claim was rolled back because a concurrent claim took
    what it needed: the next claim looks again."""


class ChannelFull(ClaimRefused):
    """Raised when a claim would exceed a limit of its channel or of an
    ancestor (a capacity, a rate limit) or its channel was paused."""


class KeyHeld(ClaimRefused):
    """Raised when a concurrent claim started a job of the same lock_key."""


class NotRecorded(Exception):
    """Raised when a job's failure could not be recorded: its update kept
    failing on a constraint (see supersede.SUPERSEDING_JOB)."""


# -- claim ---------------------------------------------------------------------
# The claim: one statement. It picks the next pending job whose eta has
# passed, whose channel lets it start and whose lock_key (if any) is free,
# in (priority, eta, id) order (the order of the partial index
# queue_job_claim_idx, so no sort is needed), locks it with SKIP LOCKED so
# concurrent claimers never wait on each other's rows, and marks it started
# for this worker. FOR NO KEY UPDATE: it does not conflict with the KEY
# SHARE locks that foreign keys to queue_job take (child jobs inserted under
# a batch). Workers claim thousands of times a second on the same
# connection: the claim is prepared once per connection (planning it costs
# more than running it). It returns a ClaimedJob that says whether the job
# is limited (its claim needs channels.CHANNEL_CHECK).
# ``channel_filter``: the SQL condition on the channels.
CLAIM_TEMPLATE = """
PREPARE {name}(integer) AS
WITH next_job AS (
    SELECT id FROM queue_job job
    WHERE state = 'pending' AND eta <= {now}
      AND {channel_filter}
      AND {key_free}
    ORDER BY priority, eta, id
    LIMIT 1
    FOR NO KEY UPDATE SKIP LOCKED
)
UPDATE queue_job job
SET state = 'started', worker_id = $1, date_started = {now},
    date_done = NULL
FROM next_job
WHERE job.id = next_job.id
RETURNING {claimed_job}
"""


def _prepare_claim(name: str, channel_filter: str) -> str:
    return CLAIM_TEMPLATE.format(
        name=name, now=NOW_UTC, channel_filter=channel_filter, key_free=lock_keys.KEY_FREE,
        claimed_job=job_row.select_list(ClaimedJob, 'job',
                                        limited=channels.limited('job.channel')))


# The checked claim skips the jobs of blocked channels (paused, full, at
# their rate limit) and of their subchannels. That filter works on the
# statement's snapshot, so two concurrent claims may both see one free slot:
# CHANNEL_CHECK settles that race for limited jobs.
PREPARE_CLAIM = _prepare_claim('background_job_claim',
                               'NOT ' + channels.blocked('job.channel'))
CLAIM = 'EXECUTE background_job_claim(%(worker_id)s)'

# While no channel is special (paused, with a capacity or a rate limit: the
# default), a claim needs no check and so no transaction of its own: this
# variant is one autocommitted statement, one round trip, that never counts
# running jobs. Its channel condition is uncorrelated, hence evaluated once
# (a one-time filter on the small channel table): as soon as a channel is
# special (paused meanwhile, say), it claims nothing at all, until the
# worker hears of it (a NOTIFY from the channel table's trigger, or
# SPECIAL_CHANNELS_EXIST with the heartbeat) and claims with the checked
# variant.
PREPARE_CLAIM_UNLIMITED = _prepare_claim(
    'background_job_claim_unlimited',
    'NOT EXISTS (SELECT 1 FROM queue_job_channel c WHERE %s)' % channels.SPECIAL)
CLAIM_UNLIMITED = 'EXECUTE background_job_claim_unlimited(%(worker_id)s)'
# The claim's transaction opens in the same round trip (autocommit
# connection, see claim()); READ COMMITTED, the server's default.
BEGIN_CLAIM = 'BEGIN ISOLATION LEVEL READ COMMITTED; ' + CLAIM


def prepare_claim(cr) -> None:
    """Prepare the claims once per connection, before claim()."""
    cr.execute(PREPARE_CLAIM)
    cr.execute(PREPARE_CLAIM_UNLIMITED)


@contextlib.contextmanager
def _settling_key_races():
    """A claim whose job's lock_key a concurrent claim took (the unique
    index lock_keys.STARTED_KEY_INDEX) raises KeyHeld; its statement, and
    so its transaction, failed."""
    try:
        yield
    except psycopg2.errors.UniqueViolation as error:
        if error.diag.constraint_name != lock_keys.STARTED_KEY_INDEX:
            raise
        raise KeyHeld() from None


def claim_unlimited(cr, worker_id: int) -> Optional[ClaimedJob]:
    """Claim the next job while no channel is special, in one autocommitted
    statement (``cr`` on an autocommit connection); see PREPARE_CLAIM_UNLIMITED."""
    with _settling_key_races():
        cr.execute(CLAIM_UNLIMITED, {'worker_id': worker_id})
    row = cr.fetchone()
    return ClaimedJob(*row) if row else None


def claim(cr, worker_id: int) -> Optional[ClaimedJob]:
    """Claim the next runnable job for this worker, in a transaction of its
    own on an AUTOCOMMIT connection (the one exception to "the caller owns
    the transaction"): BEGIN travels with the claim and COMMIT alone, two
    round trips where psycopg2's implicit BEGIN would make three.

    None when no job is runnable. Raises ChannelFull or KeyHeld, rolled
    back, when a concurrent claim took the channel's last slot (or start of
    its rate window) or the job's lock_key.
    """
    try:
        with _settling_key_races():
            cr.execute(BEGIN_CLAIM, {'worker_id': worker_id})
    except KeyHeld:
        cr.execute('ROLLBACK')
        raise
    row = cr.fetchone()
    if row is None:
        cr.execute('COMMIT')
        return None
    job = ClaimedJob(*row)
    if job.limited and channels.refused(cr, job.channel):
        cr.execute('ROLLBACK')
        raise ChannelFull(job.channel)
    cr.execute('COMMIT')
    return job


# -- the job's own transaction -------------------------------------------------
# First statement of the job's own transaction (the job's effects and its
# done state commit together). The row lock held until that transaction ends
# is the proof that the job is running: the reaper skips locked rows, so a
# live job is never requeued. If the reaper requeued the job between claim
# and here, no row comes back and the job is not run. date_started is the
# attempt's token: a thread whose attempt was ended (engine/watchdog.py)
# never locks a later attempt of the job, even one of the same worker.
# The time limit is the watchdog's; the statement_timeout (SET LOCAL, by
# set_config(..., true): it ends with the transaction) is a safety net a
# little beyond it, for a worker whose control thread is cut off.
LOCK_FOR_RUN = """
SELECT set_config('statement_timeout', %(timeout_ms)s, true)
FROM queue_job
WHERE id = %(id)s AND state = 'started' AND worker_id = %(worker_id)s
  AND date_started = %(date_started)s
FOR NO KEY UPDATE
"""

# The done state. MARK_DONE, unguarded, is the raw reference of `make bench`
# (bench/__main__.py); the worker's guarded form is FINISH_RUN. date_done is
# the clock, not now(): the job's transaction began when the job started.
# exec_time is that transaction's length, the job's run.
DONE_SET = """
SET state = 'done', date_done = {end}, result = %(result)s,
    exec_time = extract(epoch FROM clock_timestamp() - now()),
    exc_type = NULL, exc_message = NULL, exc_info = NULL
""".format(end=CLOCK_UTC)
MARK_DONE = 'UPDATE queue_job' + DONE_SET + 'WHERE id = %(id)s'

# The last statement of a job's own transaction, sent with its COMMIT in one
# message, where only the last statement's result comes back: so its row
# count is checked in SQL. When the row is no longer started by this worker
# the division by zero fails the message before COMMIT, and the job's work
# is rolled back instead of committed as done.
FINISH_RUN = """
WITH done AS (
    UPDATE queue_job {done_set}
    WHERE id = %(id)s AND state = 'started' AND worker_id = %(worker_id)s
    RETURNING id
)
SELECT 1 / count(*) FROM done
""".format(done_set=DONE_SET)

# A job thread runs thousands of jobs on one connection: both statements of
# a job's own transaction are prepared once per connection (PREPARE_RUN).
PREPARE_RUN = ('PREPARE background_job_lock_for_run(integer, integer, text, timestamp) AS '
               + LOCK_FOR_RUN % {'id': '$1', 'worker_id': '$2', 'timeout_ms': '$3',
                                 'date_started': '$4'} + ';\n'
               'PREPARE background_job_finish_run(integer, text, integer) AS ' + FINISH_RUN
               % {'id': '$1', 'result': '$2', 'worker_id': '$3'})
EXECUTE_LOCK_FOR_RUN = ('EXECUTE background_job_lock_for_run('
                        '%(id)s, %(worker_id)s, %(timeout_ms)s, %(date_started)s)')
EXECUTE_FINISH_RUN = 'EXECUTE background_job_finish_run(%(id)s, %(result)s, %(worker_id)s)'


def prepare_run(cr) -> None:
    """Prepare lock_for_run and finish_run once per connection."""
    cr.execute(PREPARE_RUN)


def lock_for_run(cr, job: ClaimedJob, worker_id: int, timeout_seconds: int) -> bool:
    """Lock the claimed job's row in the job's own transaction, and in any
    later one if the job commits on its own (``cr``: the worker's job
    cursor, service/job_cursor.py); False if this attempt of the job is no
    longer this worker's to run. Needs prepare_run()."""
    safety_net = timeout_seconds + defaults.STATEMENT_TIMEOUT_MARGIN if timeout_seconds else 0
    cr.execute_and_hold(EXECUTE_LOCK_FOR_RUN, {
        'id': job.id, 'worker_id': worker_id, 'date_started': job.date_started,
        'timeout_ms': str(int(safety_net * 1000))})
    return cr.fetchone() is not None


def finish_run(cr, job_id: int, worker_id: int, result: Optional[str]) -> bool:
    """Mark the job done and commit its transaction, in one round trip: the
    one other exception to "the caller owns the transaction", for the
    worker's job cursor (service/job_cursor.py). False, nothing committed
    and the transaction still open, if the row is no longer this worker's
    started job (FINISH_RUN). Needs prepare_run()."""
    try:
        cr.execute_and_commit(EXECUTE_FINISH_RUN, {
            'id': job_id, 'worker_id': worker_id, 'result': result})
    except psycopg2.errors.DivisionByZero:  # FINISH_RUN's "no row" signal
        return False
    return True


def mark_done(cr, job_id: int, result: Optional[str]) -> None:
    cr.execute(MARK_DONE, {'id': job_id, 'result': result})


# -- jobs run in the caller's transaction (engine/attempt.py perform_now) --------
# The job takes its row as a claim and a lock would: started, by the given
# worker id (no worker row has it), so that MARK_FAILED, guarded by state
# and worker, records its failure as a worker's. The clock: the caller's
# transaction may have begun long before.
START_NOW = """
UPDATE queue_job SET state = 'started', worker_id = %(worker_id)s, date_started = {start}
WHERE id = %(id)s AND state = 'pending'
""".format(start=CLOCK_UTC)

# Its done state: as FINISH_RUN's, with the call's own duration (the
# caller's transaction began before it) and no worker.
FINISH_NOW = """
UPDATE queue_job
SET state = 'done', date_done = {end}, result = %(result)s, exec_time = %(exec_time)s,
    exc_type = NULL, exc_message = NULL, exc_info = NULL, worker_id = NULL
WHERE id = %(id)s AND state = 'started' AND worker_id = %(worker_id)s
""".format(end=CLOCK_UTC)


def start_now(cr, job_id: int, worker_id: int) -> bool:
    """Mark a pending job started by ``worker_id`` in the caller's
    transaction; False if it is not pending (anymore)."""
    cr.execute(START_NOW, {'id': job_id, 'worker_id': worker_id})
    return cr.rowcount == 1


def finish_now(cr, job_id: int, worker_id: int, result: Optional[str],
               exec_time: float) -> bool:
    """Mark a job started by start_now() done; False if its row changed."""
    cr.execute(FINISH_NOW, {'id': job_id, 'worker_id': worker_id, 'result': result,
                            'exec_time': exec_time})
    return cr.rowcount == 1


# -- failure and release -------------------------------------------------------
# The attempt a statement is about: date_started, set by each claim, tells
# an attempt of a job from the next one on the same worker (a thread whose
# attempt the watchdog ended must never write over a later one). NULL: any
# (the caller's transaction, tests).
ATTEMPT = "(%(date_started)s::timestamp IS NULL OR date_started = %(date_started)s)"

# Record the error and either schedule the retry (state pending, eta in the
# future) or fail: in the job's own transaction, once its work was rolled
# back to just after its row lock (so the reaper cannot requeue the job
# before its error is recorded), else in a new one (that connection lost).
# The state/worker guard makes a late report from a requeued job a no-op,
# and the attempt guard (ATTEMPT) one from an earlier attempt of the job.
# %(state)s: pending (a retry), failed or cancelled (a stopped job).
# The clock, not now(): the job's own transaction began when the job did, so
# its end (date_done of a failure) and the retry's eta count from the failure.
MARK_FAILED = """
UPDATE queue_job job
SET {back_to_pending}, retry = retry + %(retry_increment)s,
    eta = {end} + make_interval(secs => %(delay)s),
    exec_time = %(exec_time)s, exc_type = %(exc_type)s, exc_info = %(exc_info)s
WHERE id = %(id)s AND state = 'started' AND worker_id = %(worker_id)s AND {attempt}
""".format(end=CLOCK_UTC, attempt=ATTEMPT, back_to_pending=supersede.back_to_pending(
    pending="%(state)s = 'pending'", otherwise='%(state)s', exc_message='%(exc_message)s'))


def mark_failed(cr, job_id: int, worker_id: int, *, retry: bool, delay: float,
                exec_time: float, exc_type: str,
                exc_message: str, exc_info: str, cancel: bool = False,
                date_started=None) -> bool:
    """Record a failure: back to pending after ``delay`` seconds when
    ``retry``, counted as a retry (cancelled if another job took its identity_key meanwhile),
    else failed for good (``cancel``: cancelled, a stopped job), for the
    attempt that started at ``date_started`` (None: whichever).
    False if the job was not ours anymore; NotRecorded
    if the update kept failing. In a REPEATABLE READ transaction (the job's
    own) a job that took the identity_key after the snapshot is never seen:
    the caller records the failure again in a READ COMMITTED one."""
    count = supersede.run(cr, MARK_FAILED, {
        'id': job_id, 'worker_id': worker_id, 'date_started': date_started,
        'state': 'pending' if retry else 'cancelled' if cancel else 'failed',
        'retry_increment': 1 if retry else 0, 'delay': float(delay),
        'exec_time': exec_time, 'exc_type': exc_type,
        'exc_message': serialization.storable_text(exc_message),
        'exc_info': serialization.storable_text(exc_info)}, job_id)
    if count is None:
        raise NotRecorded(job_id)
    return count == 1


# A job was not run after all, or its attempt was ended by a shutdown: give
# it back, its retries unchanged, and wake the workers (of every server) to
# start it at once. The NOTIFY goes with the statement's transaction.
RELEASE = """
WITH released AS (
    UPDATE queue_job job SET {back_to_pending}, date_started = NULL
    WHERE id = %(id)s AND state = 'started' AND worker_id = %(worker_id)s AND {attempt}
    RETURNING id
)
SELECT id, pg_notify('{channel}', '') FROM released
""".format(back_to_pending=supersede.back_to_pending(), attempt=ATTEMPT, channel=NOTIFY_CHANNEL)


def release(cr, job_id: int, worker_id: int, date_started=None) -> None:
    """Give the job back (pending, retries unchanged), for the attempt that
    started at ``date_started`` (None: whichever)."""
    supersede.run(cr, RELEASE, {'id': job_id, 'worker_id': worker_id,
                                'date_started': date_started}, job_id)


# The watchdog ends a job's transaction (engine/watchdog.py): the job's
# backend ends, its transaction is rolled back and its row lock goes with it,
# so nothing of the attempt can commit, whatever its thread does later. Only
# the engine's own connections qualify (application_name), never another
# session that took the pid of a connection closed meanwhile.
TERMINATE_BACKEND = """
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE pid = %(pid)s AND application_name = 'background_job'
"""


def terminate_backend(cr, pid: Optional[int]) -> bool:
    """End the session of backend ``pid`` (a job's connection); False if
    there was none."""
    if not pid:
        return False
    cr.execute(TERMINATE_BACKEND, {'pid': pid})
    return bool(cr.fetchall())
