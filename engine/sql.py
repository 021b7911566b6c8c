"""Every SQL statement of the engine, named, with why it has its shape.

Datetimes are stored as Odoo stores them: ``timestamp without time zone``
in UTC, hence ``now() AT TIME ZONE 'UTC'`` (spelled ``NOW_UTC`` below).
"""

NOW_UTC = "(now() AT TIME ZONE 'UTC')"

# Wakes idle workers of this database. NOTIFY is transactional: PostgreSQL
# delivers it only if the enqueuing transaction commits, and folds repeats
# of the same payload within one transaction into one message.
CHANNEL = 'background_job'

# One statement per delay(): the row and its wake-up notification. The
# conflict target is the partial unique index on identity_key, so a second
# delay() with the key of a waiting or pending job inserts nothing and the
# caller reads the existing job (FIND_BY_IDENTITY). One notification per
# transaction is enough: a transaction-local setting remembers it was sent.
# A rolled-back savepoint undoes both, so the next delay() notifies again.
# (After a transaction the setting reads '', not NULL: hence the COALESCE.)
ENQUEUE = """
WITH new_job AS (
    INSERT INTO queue_job (uuid, name, model_name, method_name, record_ids,
                           args, kwargs, context, user_id, company_id, channel,
                           priority, eta, state, retry, max_retries, timeout,
                           identity_key, parent_id, date_created)
    VALUES (%(uuid)s, %(name)s, %(model_name)s, %(method_name)s, %(record_ids)s,
            %(args)s, %(kwargs)s, %(context)s, %(user_id)s, %(company_id)s,
            %(channel)s, %(priority)s, COALESCE(%(eta)s, {now}), %(state)s, 0,
            %(max_retries)s, %(timeout)s, %(identity_key)s, %(parent_id)s, {now})
    ON CONFLICT (identity_key)
        WHERE identity_key IS NOT NULL AND state IN ('waiting', 'pending')
        DO NOTHING
    RETURNING id
)
SELECT id, CASE WHEN COALESCE(current_setting('background_job.notified', true), '') = ''
               THEN pg_notify('{channel}', '')::text
                    || set_config('background_job.notified', 'y', true) END
FROM new_job
""".format(now=NOW_UTC, channel=CHANNEL)

# delay() in a loop: from the second job on one cursor, the insert runs as a
# prepared statement (planning it costs a third of running it). Odoo resets
# a pooled connection, prepared statements included, only when it lends it
# again, so the statement lives as long as the cursor; the check covers a
# connection that kept it from an earlier cursor.
ENQUEUE_COLUMNS = ('uuid', 'name', 'model_name', 'method_name', 'record_ids', 'args',
                   'kwargs', 'context', 'user_id', 'company_id', 'channel', 'priority',
                   'eta', 'state', 'max_retries', 'timeout', 'identity_key', 'parent_id')
ENQUEUE_IS_PREPARED = ("SELECT EXISTS (SELECT 1 FROM pg_prepared_statements "
                       "WHERE name = 'background_job_enqueue')")
PREPARE_ENQUEUE = 'PREPARE background_job_enqueue AS ' + ENQUEUE.replace(
    '%(eta)s', '%(eta)s::timestamp') % {
    name: '$%d' % number for number, name in enumerate(ENQUEUE_COLUMNS, 1)}
EXECUTE_ENQUEUE = 'EXECUTE background_job_enqueue (%s)' % ', '.join(
    '%%(%s)s' % name for name in ENQUEUE_COLUMNS)

FIND_BY_IDENTITY = """
SELECT id FROM queue_job
WHERE identity_key = %(identity_key)s AND state IN ('waiting', 'pending')
"""

# The claim: one statement. It picks the next pending job whose eta has
# passed and whose channel has room, in (priority, eta, id) order -- the
# order of the partial index queue_job_claim_idx, so no sort is needed --
# locks it with SKIP LOCKED so concurrent claimers never wait on each other's
# rows, and marks it started for this worker. FOR NO KEY UPDATE: it does not
# conflict with the KEY SHARE locks that foreign keys to queue_job take
# (child jobs inserted under a batch). Channels without a row, or with
# capacity 0, have no limit, and claims in them take no other lock. The
# full-channel filter works on the statement's snapshot, so two concurrent
# claims may both see one free slot: CAPACITY_CHECK settles that race for
# channels that have a capacity. It returns the channel's capacity for that.
FULL_CHANNELS = """
    -- only channels with a capacity are counted: no work when none has one
    SELECT c.name FROM queue_job_channel c
    WHERE c.capacity > 0
      AND (SELECT count(*) FROM queue_job running
           WHERE running.state = 'started' AND running.channel = c.name) >= c.capacity"""

CLAIM_TEMPLATE = """
WITH full_channel AS (""" + FULL_CHANNELS + """
), next_job AS (
    SELECT id FROM queue_job
    WHERE state = 'pending' AND eta <= {now}
      AND channel NOT IN (SELECT name FROM full_channel)
    ORDER BY priority, eta, id
    LIMIT 1
    FOR NO KEY UPDATE SKIP LOCKED
)
UPDATE queue_job job
SET state = 'started', worker_id = {worker_id}, date_started = {now},
    date_done = NULL
FROM next_job
WHERE job.id = next_job.id
RETURNING job.id, job.uuid, job.model_name, job.method_name, job.record_ids,
          job.args, job.kwargs, job.context, job.user_id, job.company_id,
          job.channel, job.retry, job.max_retries, job.timeout,
          job.parent_id,
          (SELECT capacity FROM queue_job_channel WHERE name = job.channel)
"""

# Workers claim thousands of times a second on the same connection: the
# claim is prepared once per connection (planning it costs more than
# running it).
PREPARE_CLAIM = 'PREPARE background_job_claim(integer) AS ' + CLAIM_TEMPLATE.format(
    now=NOW_UTC, worker_id='$1')
CLAIM = 'EXECUTE background_job_claim(%(worker_id)s)'

# While no channel has a capacity (the default), a claim needs no check and
# so no transaction of its own: this variant is one autocommitted statement,
# one round trip. It never takes a job of a channel with a capacity, so a
# capacity set meanwhile is honoured: such jobs wait until the worker sees
# LIMITED_CHANNELS_EXIST and claims with the checked variant.
PREPARE_CLAIM_UNLIMITED = (
    'PREPARE background_job_claim_unlimited(integer) AS ' + CLAIM_TEMPLATE.format(
        now=NOW_UTC, worker_id='$1').replace(
        'AND channel NOT IN (SELECT name FROM full_channel)',
        'AND channel NOT IN (SELECT name FROM queue_job_channel WHERE capacity > 0)'))
CLAIM_UNLIMITED = 'EXECUTE background_job_claim_unlimited(%(worker_id)s)'
LIMITED_CHANNELS_EXIST = 'SELECT EXISTS (SELECT 1 FROM queue_job_channel WHERE capacity > 0)'
# The claim's transaction opens in the same round trip (autocommit
# connection, see store.claim); READ COMMITTED, the server's default.
BEGIN_CLAIM = 'BEGIN ISOLATION LEVEL READ COMMITTED; ' + CLAIM

# Right after claiming in a channel with a capacity, in the same READ
# COMMITTED transaction: lock the channel's row, then count its running
# jobs. The lock makes concurrent claimers of the channel take turns until
# commit, and the count, a statement of its own, runs on a snapshot taken
# after the lock, so it sees every earlier claim: above capacity, the
# claimer rolls its claim back and no channel is ever over its capacity.
# Unlimited channels never take this lock.
CAPACITY_CHECK = """
SELECT 1 FROM queue_job_channel WHERE name = %(channel)s FOR NO KEY UPDATE;
SELECT count(*) FROM queue_job WHERE state = 'started' AND channel = %(channel)s
"""

# First statement of the job's own transaction (the job's effects and its
# done state commit together). The row lock held until that transaction ends
# is the proof that the job is running: the reaper skips locked rows, so a
# live job is never requeued. If the reaper requeued the job between claim
# and here, no row comes back and the job is not run. set_config(..., true)
# is SET LOCAL: the time limit ends with the transaction.
LOCK_FOR_RUN = """
SELECT set_config('statement_timeout', %(timeout_ms)s, true)
FROM queue_job
WHERE id = %(id)s AND state = 'started' AND worker_id = %(worker_id)s
FOR NO KEY UPDATE
"""

# The done state: trap_jobs().perform() (testing.py) ends a trapped job with
# it in the test's transaction; the worker's guarded form is FINISH_RUN.
DONE_SET = """
SET state = 'done', date_done = {now}, result = %(result)s,
    exec_time = extract(epoch FROM clock_timestamp() - now()),
    exc_type = NULL, exc_message = NULL, exc_info = NULL
""".format(now=NOW_UTC)
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
PREPARE_RUN = ('PREPARE background_job_lock_for_run(integer, integer, text) AS ' + LOCK_FOR_RUN
               % {'id': '$1', 'worker_id': '$2', 'timeout_ms': '$3'} + ';\n'
               'PREPARE background_job_finish_run(integer, text, integer) AS ' + FINISH_RUN
               % {'id': '$1', 'result': '$2', 'worker_id': '$3'})
EXECUTE_LOCK_FOR_RUN = 'EXECUTE background_job_lock_for_run(%(id)s, %(worker_id)s, %(timeout_ms)s)'
EXECUTE_FINISH_RUN = 'EXECUTE background_job_finish_run(%(id)s, %(result)s, %(worker_id)s)'

# run_now mode: the call already ran in the caller's transaction.
RECORD_IMMEDIATE_RESULT = """
UPDATE queue_job SET date_started = date_created, date_done = date_created,
                     exec_time = 0, result = %(result)s
WHERE id = %(id)s
"""

# The supersede rule, shared by every statement that sets a job back to
# pending (here, engine/sql_admin.py, engine/sql_batch.py): identity_key is
# unique among waiting and pending jobs, and while a job ran another job
# may have taken its key (delay() inserts it). The job then ends instead,
# cancelled, "superseded by job N": the other job does the same work.
# SUPERSEDING_JOB names that other job, read with the statement's snapshot
# (the partial unique index finds it). A concurrent delay() not yet
# committed is not seen: the update then fails with a unique violation once
# that delay() commits, and store.py runs it again (READ COMMITTED: the next
# try sees that job), row by row if need be.
SUPERSEDING_JOB = """(SELECT other.id FROM queue_job other
 WHERE other.identity_key = job.identity_key AND other.state IN ('waiting', 'pending')
   AND other.id <> job.id ORDER BY other.id LIMIT 1)"""


def back_to_pending(pending: str = 'TRUE', otherwise: str = "'failed'",
                    exc_message: str = 'job.exc_message') -> str:
    """The SET items state, date_done, exc_message and worker_id of a
    statement that sets ``queue_job job`` back to pending where the SQL
    condition ``pending`` holds (else to the state ``otherwise``, ended),
    under the supersede rule; ``exc_message`` for a job not superseded."""
    return """state = CASE WHEN NOT ({pending}) THEN {otherwise}
                 WHEN {other} IS NULL THEN 'pending' ELSE 'cancelled' END,
    date_done = CASE WHEN ({pending}) AND {other} IS NULL THEN NULL ELSE {now} END,
    exc_message = CASE WHEN ({pending}) AND {other} IS NOT NULL
                       THEN 'superseded by job ' || {other} ELSE {exc_message} END,
    worker_id = NULL""".format(pending=pending, otherwise=otherwise, other=SUPERSEDING_JOB,
                               now=NOW_UTC, exc_message=exc_message)


# Record the error and either schedule the retry (state pending, eta in the
# future) or fail: in the job's own transaction, once its work was rolled
# back to just after its row lock (so the reaper cannot requeue the job
# before its error is recorded), else in a new one (that connection lost).
# The state/worker guard makes a late report from a requeued job a no-op.
MARK_FAILED = """
UPDATE queue_job job
SET {back_to_pending}, retry = retry + %(retry_increment)s,
    eta = {now} + make_interval(secs => %(delay)s),
    exec_time = %(exec_time)s, exc_type = %(exc_type)s, exc_info = %(exc_info)s
WHERE id = %(id)s AND state = 'started' AND worker_id = %(worker_id)s
""".format(now=NOW_UTC, back_to_pending=back_to_pending(
    pending="%(state)s = 'pending'", otherwise='%(state)s', exc_message='%(exc_message)s'))

# A job was not run after all (the runner is stopping): give it back.
RELEASE = """
UPDATE queue_job job SET {back_to_pending}, date_started = NULL
WHERE id = %(id)s AND state = 'started' AND worker_id = %(worker_id)s
""".format(back_to_pending=back_to_pending())

# Orphaned jobs are requeued, counted as a retry, or failed when out of
# retries. A running job's row is locked by its transaction, so SKIP LOCKED
# leaves every running job alone, and any started job whose row is NOT
# locked is an orphan once dead_after has passed since it started (its
# worker died, or could not even record the job's failure). Jobs of a
# worker known to be dead (a local process that no longer exists, a worker
# row gone, no heartbeat for dead_after) are requeued without that wait.
ORPHAN_CONDITION = """job.state = 'started'
      AND (worker.id IS NULL OR worker.id = ANY(%(dead_worker_ids)s)
           OR worker.last_beat < {now} - make_interval(secs => %(dead_after)s)
           OR job.date_started < {now} - make_interval(secs => %(dead_after)s))""".format(now=NOW_UTC)

# ``job_ids``: NULL, or only these jobs (store.py's row-by-row fallback).
REQUEUE_ORPHANS = """
WITH orphan AS (
    SELECT job.id FROM queue_job job
    LEFT JOIN queue_job_worker worker ON worker.id = job.worker_id
    WHERE {orphan}
      AND (%(job_ids)s::integer[] IS NULL OR job.id = ANY(%(job_ids)s::integer[]))
    FOR NO KEY UPDATE OF job SKIP LOCKED
)
UPDATE queue_job job
SET {back_to_pending}, retry = job.retry + 1, eta = {now}, exc_type = 'WorkerDied'
FROM orphan
WHERE job.id = orphan.id
RETURNING job.id, job.state
""".format(now=NOW_UTC, orphan=ORPHAN_CONDITION, back_to_pending=back_to_pending(
    pending='job.retry < job.max_retries',
    exc_message="'The worker running this job stopped (killed or lost) before it finished.'"))

# The candidate orphans, for the row-by-row fallback (which skips locked rows).
LIST_ORPHANS = """
SELECT job.id FROM queue_job job
LEFT JOIN queue_job_worker worker ON worker.id = job.worker_id
WHERE {orphan}
ORDER BY job.id
""".format(orphan=ORPHAN_CONDITION)

REGISTER_WORKER = """
INSERT INTO queue_job_worker (uuid, host, pid, threads, date_started, last_beat)
VALUES (%(uuid)s, %(host)s, %(pid)s, %(threads)s, {now}, {now})
RETURNING id
""".format(now=NOW_UTC)

HEARTBEAT = """
UPDATE queue_job_worker SET last_beat = {now} WHERE id = %(worker_id)s
""".format(now=NOW_UTC)

# A stopped worker keeps its row (jobs reference it: deleting it would erase
# who ran them); PURGE_WORKERS removes it once no job refers to it.
UNREGISTER_WORKER = """
UPDATE queue_job_worker SET date_stopped = {now} WHERE id = %(worker_id)s
""".format(now=NOW_UTC)

# The reaper checks whether the processes of this host's workers still
# exist: only the workers that have started jobs matter, found from those
# jobs (partial index queue_job_started_idx), never every historical row.
LOCAL_WORKERS = """
SELECT DISTINCT worker.id, worker.pid
FROM queue_job job JOIN queue_job_worker worker ON worker.id = job.worker_id
WHERE job.state = 'started' AND worker.host = %(host)s AND worker.id <> %(worker_id)s
"""

# The cleanup cron: rows of workers stopped or silent for ``days`` days that
# no job refers to any more (done and cancelled jobs are purged after the
# same number of days; failed jobs keep their worker's row). One anti-join
# over queue_job.worker_id, once a day: no index on it for the claims to
# maintain.
PURGE_WORKERS = """
DELETE FROM queue_job_worker worker
WHERE COALESCE(worker.date_stopped, worker.last_beat, worker.date_started)
      < {now} - make_interval(days => %(days)s)
  AND NOT EXISTS (SELECT 1 FROM queue_job job WHERE job.worker_id = worker.id)
""".format(now=NOW_UTC)

# Config-file channel capacities become rows the first time; after that the
# row (edited by admins) wins.
ENSURE_CHANNEL = """
INSERT INTO queue_job_channel (name, capacity) VALUES (%(name)s, %(capacity)s)
ON CONFLICT (name) DO NOTHING
"""

# How long an idle worker may sleep: until the next eta among the jobs it
# could claim. Jobs of full channels are left out: their eta has passed, so
# counting them would make idle threads claim and ask again at once, in a
# loop. A freed slot wakes the runner's threads (worker.py); other servers
# see it at their next poll.
NEXT_ETA = """
SELECT extract(epoch FROM min(eta) - {now}) FROM queue_job
WHERE state = 'pending' AND channel NOT IN ({full_channels})
""".format(now=NOW_UTC, full_channels=FULL_CHANNELS)

PURGE_FINISHED = """
DELETE FROM queue_job
WHERE id IN (SELECT id FROM queue_job
             WHERE state IN ('done', 'cancelled') AND parent_id IS NULL
               AND date_done < {now} - make_interval(days => %(days)s)
             LIMIT %(limit)s)
""".format(now=NOW_UTC)
