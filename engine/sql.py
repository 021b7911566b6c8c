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
# caller reads the existing job (FIND_BY_IDENTITY).
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
SELECT id, pg_notify('{channel}', '') FROM new_job
""".format(now=NOW_UTC, channel=CHANNEL)

FIND_BY_IDENTITY = """
SELECT id FROM queue_job
WHERE identity_key = %(identity_key)s AND state IN ('waiting', 'pending')
"""

# Claims are serialized per database by this transaction-scoped lock, taken
# just before CLAIM in the same READ COMMITTED transaction: CLAIM then runs
# on a snapshot that includes every earlier claim, so its count of running
# jobs per channel is exact and no channel ever exceeds its capacity. The
# lock is held only for the claim and its commit (well under a millisecond).
CLAIM_LOCK = "SELECT pg_advisory_xact_lock(hashtext('background_job.claim'))"

# The claim: one statement. It picks the next pending job whose eta has
# passed and whose channel has room, in (priority, eta, id) order -- the
# order of the partial index queue_job_claim_idx, so no sort is needed --
# locks it with SKIP LOCKED so concurrent claimers never wait on each other's
# rows, and marks it started for this worker. FOR NO KEY UPDATE: it does not
# conflict with the KEY SHARE locks that foreign keys to queue_job take
# (child jobs inserted under a batch). Channels without a row, or with
# capacity 0, have no limit.
CLAIM = """
WITH running AS (
    SELECT channel, count(*) AS jobs FROM queue_job
    WHERE state = 'started' GROUP BY channel
), full_channel AS (
    SELECT c.name FROM queue_job_channel c JOIN running r ON r.channel = c.name
    WHERE c.capacity > 0 AND r.jobs >= c.capacity
), next_job AS (
    SELECT id FROM queue_job
    WHERE state = 'pending' AND eta <= {now}
      AND channel NOT IN (SELECT name FROM full_channel)
    ORDER BY priority, eta, id
    LIMIT 1
    FOR NO KEY UPDATE SKIP LOCKED
)
UPDATE queue_job job
SET state = 'started', worker_id = %(worker_id)s, date_started = {now},
    date_done = NULL
FROM next_job
WHERE job.id = next_job.id
RETURNING job.id, job.uuid, job.model_name, job.method_name, job.record_ids,
          job.args, job.kwargs, job.context, job.user_id, job.company_id,
          job.channel, job.retry, job.max_retries, job.timeout
""".format(now=NOW_UTC)

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

MARK_DONE = """
UPDATE queue_job
SET state = 'done', date_done = {now}, result = %(result)s,
    exec_time = extract(epoch FROM clock_timestamp() - now()),
    exc_type = NULL, exc_message = NULL, exc_info = NULL
WHERE id = %(id)s
""".format(now=NOW_UTC)

# run_now mode: the call already ran in the caller's transaction.
RECORD_IMMEDIATE_RESULT = """
UPDATE queue_job SET date_started = date_created, date_done = date_created,
                     exec_time = 0, result = %(result)s
WHERE id = %(id)s
"""

# After the job's transaction rolled back, in a new one: record the error
# and either schedule the retry (state pending, eta in the future) or fail.
# The state/worker guard makes a late report from a requeued job a no-op.
MARK_FAILED = """
UPDATE queue_job
SET state = %(state)s, retry = retry + %(retry_increment)s,
    eta = {now} + make_interval(secs => %(delay)s),
    date_done = CASE WHEN %(state)s = 'failed' THEN {now} END,
    exec_time = %(exec_time)s, worker_id = NULL,
    exc_type = %(exc_type)s, exc_message = %(exc_message)s, exc_info = %(exc_info)s
WHERE id = %(id)s AND state = 'started' AND worker_id = %(worker_id)s
""".format(now=NOW_UTC)

# A job was not run after all (the runner is stopping): give it back.
RELEASE = """
UPDATE queue_job SET state = 'pending', worker_id = NULL, date_started = NULL
WHERE id = %(id)s AND state = 'started' AND worker_id = %(worker_id)s
"""

# Jobs whose worker died (no heartbeat for dead_after seconds, a local
# process that no longer exists, or a worker row gone) are requeued, counted
# as a retry, or failed when out of retries. SKIP LOCKED skips every job
# whose transaction is still alive, so a running job is never touched.
REQUEUE_ORPHANS = """
WITH orphan AS (
    SELECT job.id FROM queue_job job
    LEFT JOIN queue_job_worker worker ON worker.id = job.worker_id
    WHERE job.state = 'started'
      AND (worker.id IS NULL OR worker.id = ANY(%(dead_worker_ids)s)
           OR worker.last_beat < {now} - make_interval(secs => %(dead_after)s))
    FOR NO KEY UPDATE OF job SKIP LOCKED
)
UPDATE queue_job job
SET state = CASE WHEN job.retry < job.max_retries THEN 'pending' ELSE 'failed' END,
    retry = job.retry + 1, worker_id = NULL, eta = {now},
    date_done = CASE WHEN job.retry < job.max_retries THEN NULL ELSE {now} END,
    exc_type = 'WorkerDied',
    exc_message = 'The worker running this job stopped (killed or lost) before it finished.'
FROM orphan
WHERE job.id = orphan.id
RETURNING job.id, job.state
""".format(now=NOW_UTC)

REGISTER_WORKER = """
INSERT INTO queue_job_worker (uuid, host, pid, threads, date_started, last_beat)
VALUES (%(uuid)s, %(host)s, %(pid)s, %(threads)s, {now}, {now})
RETURNING id
""".format(now=NOW_UTC)

HEARTBEAT = """
UPDATE queue_job_worker SET last_beat = {now} WHERE id = %(worker_id)s
""".format(now=NOW_UTC)

UNREGISTER_WORKER = "DELETE FROM queue_job_worker WHERE id = %(worker_id)s"

LOCAL_WORKERS = "SELECT id, pid FROM queue_job_worker WHERE host = %(host)s AND id <> %(worker_id)s"

# Config-file channel capacities become rows the first time; after that the
# row (edited by admins) wins.
ENSURE_CHANNEL = """
INSERT INTO queue_job_channel (name, capacity) VALUES (%(name)s, %(capacity)s)
ON CONFLICT (name) DO NOTHING
"""

NEXT_ETA = """
SELECT extract(epoch FROM min(eta) - {now}) FROM queue_job WHERE state = 'pending'
""".format(now=NOW_UTC)

PURGE_FINISHED = """
DELETE FROM queue_job
WHERE id IN (SELECT id FROM queue_job
             WHERE state IN ('done', 'cancelled') AND parent_id IS NULL
               AND date_done < {now} - make_interval(days => %(days)s)
             LIMIT %(limit)s)
""".format(now=NOW_UTC)

# -- admin actions (backend buttons and list actions) -------------------------
# One guarded UPDATE each: the allowed source states (engine/states.py) are a
# parameter, so a job that left them meanwhile is skipped, never forced.
# SKIP LOCKED: a started job's row stays locked by its worker until the job's
# transaction ends, and a job being claimed is locked for a moment; the
# backend request must not wait on either, so such rows are left out and the
# caller reports them as not changed. FOR NO KEY UPDATE, as in CLAIM.

# Requeue (and "run now"): back to pending, eta now, full retries again. The
# NOTIFY wakes idle workers once the admin's transaction commits.
# ``top_priority``: run before everything else waiting (priority 0 or lower).
ADMIN_REQUEUE = """
WITH target AS (
    SELECT id FROM queue_job
    WHERE id = ANY(%(ids)s) AND state = ANY(%(from_states)s)
    FOR NO KEY UPDATE SKIP LOCKED
), requeued AS (
    UPDATE queue_job job
    SET state = 'pending', eta = {now}, worker_id = NULL,
        retry = CASE WHEN job.state = 'pending' THEN job.retry ELSE 0 END,
        priority = CASE WHEN %(top_priority)s THEN LEAST(job.priority, 0)
                        ELSE job.priority END,
        date_started = NULL, date_done = NULL
    FROM target
    WHERE job.id = target.id
    RETURNING job.id
)
SELECT id, pg_notify('{channel}', '') FROM requeued
""".format(now=NOW_UTC, channel=CHANNEL)

ADMIN_CANCEL = """
WITH target AS (
    SELECT id FROM queue_job
    WHERE id = ANY(%(ids)s) AND state = ANY(%(from_states)s)
    FOR NO KEY UPDATE SKIP LOCKED
)
UPDATE queue_job job
SET state = 'cancelled', date_done = {now}, worker_id = NULL
FROM target
WHERE job.id = target.id
RETURNING job.id
""".format(now=NOW_UTC)

# The result says who closed the job by hand, so nobody mistakes it for a run.
ADMIN_SET_DONE = """
WITH target AS (
    SELECT id FROM queue_job
    WHERE id = ANY(%(ids)s) AND state = ANY(%(from_states)s)
    FOR NO KEY UPDATE SKIP LOCKED
)
UPDATE queue_job job
SET state = 'done', date_done = {now}, worker_id = NULL, result = %(result)s
FROM target
WHERE job.id = target.id
RETURNING job.id
""".format(now=NOW_UTC)

# ORM writes and unlink lock the rows first, without waiting: a running
# job's row is locked by its worker, and the request must fail at once
# instead of hanging until the job ends. A delete takes the stronger FOR
# UPDATE lock it would take anyway.
LOCK_FOR_WRITE_NOWAIT = """
SELECT id FROM queue_job WHERE id = ANY(%(ids)s) FOR NO KEY UPDATE NOWAIT
"""

LOCK_FOR_DELETE_NOWAIT = """
SELECT id FROM queue_job WHERE id = ANY(%(ids)s) FOR UPDATE NOWAIT
"""

# Running and pending jobs per channel, for the channel screen: one scan of
# the partial indexes on started and pending jobs, not one count per row.
CHANNEL_LOAD = """
SELECT channel, count(*) FILTER (WHERE state = 'started'),
       count(*) FILTER (WHERE state = 'pending')
FROM queue_job
WHERE state IN ('started', 'pending') AND channel = ANY(%(channels)s)
GROUP BY channel
"""
