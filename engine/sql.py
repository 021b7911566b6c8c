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
CLAIM_TEMPLATE = """
WITH full_channel AS (
    -- only channels with a capacity are counted: no work when none has one
    SELECT c.name FROM queue_job_channel c
    WHERE c.capacity > 0
      AND (SELECT count(*) FROM queue_job running
           WHERE running.state = 'started' AND running.channel = c.name) >= c.capacity
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

# Orphaned jobs are requeued, counted as a retry, or failed when out of
# retries. A running job's row is locked by its transaction, so SKIP LOCKED
# leaves every running job alone, and any started job whose row is NOT
# locked is an orphan once dead_after has passed since it started (its
# worker died, or could not even record the job's failure). Jobs of a
# worker known to be dead (a local process that no longer exists, a worker
# row gone, no heartbeat for dead_after) are requeued without that wait.
REQUEUE_ORPHANS = """
WITH orphan AS (
    SELECT job.id FROM queue_job job
    LEFT JOIN queue_job_worker worker ON worker.id = job.worker_id
    WHERE job.state = 'started'
      AND (worker.id IS NULL OR worker.id = ANY(%(dead_worker_ids)s)
           OR worker.last_beat < {now} - make_interval(secs => %(dead_after)s)
           OR job.date_started < {now} - make_interval(secs => %(dead_after)s))
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

# A stopped worker keeps its row (jobs reference it: deleting it would erase
# who ran them); the cleanup cron removes old stopped rows.
UNREGISTER_WORKER = """
UPDATE queue_job_worker SET date_stopped = {now} WHERE id = %(worker_id)s
""".format(now=NOW_UTC)

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

# -- batches (engine/batch.py) ----------------------------------------------
# A whole batch in one statement: the parent (state waiting: the claim only
# takes pending jobs, so it never runs itself) and one child per job_size
# ids. The split happens inside PostgreSQL: the ids travel once, as one array
# literal, and WITH ORDINALITY keeps the caller's order, so 1,000,000 ids
# are one round trip and seconds of work, not one INSERT per child. The
# children reference a parent inserted by the same statement: foreign keys
# are checked at its end. The uuid expression works on every PostgreSQL
# that Odoo 11 runs on (gen_random_uuid() needs 13).
ENQUEUE_BATCH = """
WITH batch AS (
    INSERT INTO queue_job (uuid, name, model_name, method_name, record_ids,
                           args, kwargs, context, user_id, company_id, channel,
                           priority, eta, state, retry, max_retries, timeout,
                           parent_id, is_batch, job_size, done_method, job_res_id,
                           date_created)
    VALUES (%(uuid)s, %(batch_name)s, %(model_name)s, %(method_name)s, '[]',
            %(args)s, %(kwargs)s, %(context)s, %(user_id)s, %(company_id)s,
            %(channel)s, %(priority)s, {now}, 'waiting', 0, %(max_retries)s,
            %(timeout)s, %(parent_id)s, true, %(job_size)s, %(done_method)s,
            %(job_res_id)s, {now})
    RETURNING id
), chunk AS (
    SELECT (position - 1) / %(job_size)s AS number,
           json_agg(id ORDER BY position)::text AS record_ids
    FROM unnest(%(ids)s::integer[]) WITH ORDINALITY AS given (id, position)
    GROUP BY 1
), child AS (
    INSERT INTO queue_job (uuid, name, model_name, method_name, record_ids,
                           args, kwargs, context, user_id, company_id, channel,
                           priority, eta, state, retry, max_retries, timeout,
                           parent_id, date_created, date_done)
    SELECT md5(random()::text || clock_timestamp()::text)::uuid::text, %(name)s,
           %(model_name)s, %(method_name)s, chunk.record_ids, %(args)s, %(kwargs)s,
           %(context)s, %(user_id)s, %(company_id)s, %(channel)s, %(priority)s,
           {now}, %(child_state)s, 0, %(max_retries)s, %(timeout)s, batch.id, {now},
           CASE WHEN %(child_state)s = 'done' THEN {now} END
    FROM batch, chunk
    ORDER BY chunk.number
    RETURNING id
)
SELECT batch.id, (SELECT count(*) FROM child), pg_notify('{channel}', '')
FROM batch
""".format(now=NOW_UTC, channel=CHANNEL)

# The batches jobs belong to. A batch started by a job joins the job's
# batch (nested batches), so that the outer batch waits for the inner one.
BATCHES_OF_JOBS = """
SELECT DISTINCT parent_id FROM queue_job
WHERE id = ANY(%(job_ids)s) AND parent_id IS NOT NULL
"""

# Finishing batches takes two statements in one READ COMMITTED transaction
# that began after the finishing child's own transaction committed. Checked
# inside the child's transaction (a REPEATABLE READ Odoo cursor), two last
# children finishing together would each see the other still running, and
# the done method would wait for the cron.
#
# 1. Lock the batches that look complete: not one unfinished child (a nested
#    batch counts until it ended) and no done job yet. Concurrent finishers
#    queue on the row lock; the winner sets done_job_id, and a waiter re-
#    checks the row as the winner left it (READ COMMITTED), so it skips. In
#    a REPEATABLE READ transaction (the cron), a row changed since the
#    snapshot raises a serialization error instead: never a second done job.
LOCK_COMPLETE_BATCHES = """
SELECT batch.id FROM queue_job batch
WHERE batch.is_batch AND batch.state = 'waiting' AND batch.done_job_id IS NULL
  AND (%(batch_ids)s::integer[] IS NULL OR batch.id = ANY(%(batch_ids)s::integer[]))
  AND NOT EXISTS (SELECT 1 FROM queue_job child
                  WHERE child.parent_id = batch.id
                    AND child.state IN ('waiting', 'pending', 'started'))
ORDER BY batch.id
FOR NO KEY UPDATE OF batch
"""

# The job that runs a batch's done method: models/queue_job_batch.py.
DONE_JOB_MODEL = 'queue.job'
DONE_JOB_METHOD = '_run_batch_done_method'
DONE_JOB_MAX_RETRIES = 5

# 2. With the locks held, check again and end each complete batch. Only
#    this check is exact: its snapshot is taken after the locks were granted
#    (requeue_batch, which reopens jobs, updates the batch row, so step 1
#    waited for it). A batch without done method ends done; one with gets
#    the job that runs it, its id drawn first so that the batch can point to
#    it. That job joins the batch's own batch (nested batches): the outer
#    batch waits for the inner done method too. FOR NO KEY UPDATE again: a
#    no-op after step 1, a guard without it. Returns (batch, outer batch,
#    done job or NULL).
FINISH_BATCHES = """
WITH complete AS (
    SELECT batch.id,
           CASE WHEN batch.done_method IS NOT NULL
                THEN nextval(pg_get_serial_sequence('queue_job', 'id')) END AS done_job_id
    FROM queue_job batch
    WHERE batch.id = ANY(%(batch_ids)s) AND batch.state = 'waiting'
      AND batch.done_job_id IS NULL
      AND NOT EXISTS (SELECT 1 FROM queue_job child
                      WHERE child.parent_id = batch.id
                        AND child.state IN ('waiting', 'pending', 'started'))
    FOR NO KEY UPDATE OF batch
), done_job AS (
    INSERT INTO queue_job (id, uuid, name, model_name, method_name, record_ids,
                           args, kwargs, context, user_id, company_id, channel,
                           priority, eta, state, retry, max_retries, timeout,
                           parent_id, date_created)
    SELECT complete.done_job_id, md5(random()::text || clock_timestamp()::text)::uuid::text,
           'Batch done: ' || batch.done_method, %(done_job_model)s, %(done_job_method)s,
           json_build_array(batch.id)::text, '[]', '{{}}', batch.context, batch.user_id,
           batch.company_id, batch.channel, batch.priority, {now}, 'pending', 0,
           %(done_job_max_retries)s, 0, batch.parent_id, {now}
    FROM complete JOIN queue_job batch ON batch.id = complete.id
    WHERE complete.done_job_id IS NOT NULL
)
UPDATE queue_job batch
SET done_job_id = complete.done_job_id,
    state = CASE WHEN complete.done_job_id IS NULL THEN 'done' ELSE 'waiting' END,
    date_done = CASE WHEN complete.done_job_id IS NULL THEN {now} END
FROM complete
WHERE batch.id = complete.id
RETURNING batch.id, batch.parent_id, complete.done_job_id, pg_notify('{channel}', '')
""".format(now=NOW_UTC, channel=CHANNEL)

# First statement of the done job's method, in the done job's transaction:
# lock the batch it was enqueued for. No row: the batch was requeued or
# cancelled since (it points to another done job, or to none), and the done
# method must not run for it.
LOCK_BATCH_FOR_DONE = """
SELECT id FROM queue_job
WHERE id = %(batch_id)s AND state = 'waiting' AND done_job_id = %(done_job_id)s
FOR NO KEY UPDATE
"""

# Last statement of the done job's method: the batch ends with the done
# method's effects, in the same transaction.
MARK_BATCH_DONE = """
UPDATE queue_job SET state = 'done', date_done = {now}
WHERE id = %(batch_id)s AND state = 'waiting'
  AND done_job_id IS NOT DISTINCT FROM %(done_job_id)s
""".format(now=NOW_UTC)

# Progress: one grouped count over the children (index
# queue_job_parent_state_idx), never a read of the child rows.
BATCH_PROGRESS = """
SELECT parent_id, state, count(*) FROM queue_job
WHERE parent_id = ANY(%(batch_ids)s)
GROUP BY parent_id, state
"""

# Cancel batches, their nested batches, their children that have not
# started and their done job if it has not started: the done method will
# not run. Running children finish; SKIP LOCKED, as in ADMIN_CANCEL: the
# request never waits for a running job. Returns the outer batches of the
# cancelled ones (they may be complete now).
CANCEL_BATCHES = """
WITH RECURSIVE tree AS (
    SELECT id FROM queue_job
    WHERE id = ANY(%(batch_ids)s) AND is_batch AND state = 'waiting'
    UNION
    SELECT child.id FROM queue_job child JOIN tree ON child.parent_id = tree.id
    WHERE child.is_batch AND child.state = 'waiting'
), target AS (
    SELECT job.id FROM queue_job job
    WHERE job.state IN ('waiting', 'pending')
      AND (job.id IN (SELECT id FROM tree) OR job.parent_id IN (SELECT id FROM tree)
           OR job.id IN (SELECT done_job_id FROM queue_job
                         WHERE id IN (SELECT id FROM tree)))
    FOR NO KEY UPDATE SKIP LOCKED
), cancelled AS (
    UPDATE queue_job job
    SET state = 'cancelled', date_done = {now}, worker_id = NULL
    FROM target
    WHERE job.id = target.id
    RETURNING job.id, job.parent_id
)
SELECT DISTINCT parent_id FROM cancelled
WHERE id = ANY(%(batch_ids)s) AND parent_id IS NOT NULL
""".format(now=NOW_UTC)

# Requeue batches: the failed and cancelled children of them and of their
# nested batches run again with full retries, and every batch that gets work
# back (and its outer batches, up to the ones named) waits again with no
# done job: the done method runs once more, once, when they have finished.
# A pending done job of such a batch is cancelled (its batch will get a new
# one). Returns the reopened batches (one with nothing left to run is
# complete at once).
REQUEUE_BATCHES = """
WITH RECURSIVE tree AS (
    SELECT id FROM queue_job WHERE id = ANY(%(batch_ids)s) AND is_batch
    UNION
    SELECT child.id FROM queue_job child JOIN tree ON child.parent_id = tree.id
    WHERE child.is_batch
), requeued AS (
    UPDATE queue_job job
    SET state = 'pending', eta = {now}, retry = 0, worker_id = NULL,
        date_started = NULL, date_done = NULL
    WHERE job.parent_id IN (SELECT id FROM tree) AND job.is_batch IS NOT TRUE
      AND job.state IN ('failed', 'cancelled')
    RETURNING job.parent_id
), reopen AS (
    SELECT parent_id AS id FROM requeued
    UNION
    SELECT id FROM queue_job WHERE id IN (SELECT id FROM tree) AND state = 'cancelled'
    UNION
    SELECT batch.parent_id FROM queue_job batch JOIN reopen ON batch.id = reopen.id
    WHERE batch.parent_id IN (SELECT id FROM tree)
), old_done_job AS (
    UPDATE queue_job job
    SET state = 'cancelled', date_done = {now}
    WHERE job.state = 'pending'
      AND job.id IN (SELECT done_job_id FROM queue_job WHERE id IN (SELECT id FROM reopen))
), reopened AS (
    UPDATE queue_job batch
    SET state = 'waiting', date_done = NULL, done_job_id = NULL
    WHERE batch.id IN (SELECT id FROM reopen)
    RETURNING batch.id
)
SELECT id, pg_notify('{channel}', '') FROM reopened
""".format(now=NOW_UTC, channel=CHANNEL)

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
