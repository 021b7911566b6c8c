"""SQL of the admin actions (backend buttons and list actions) and of the
backend's counts. Conventions as in engine/sql.py."""
from .sql import CHANNEL, NOW_UTC, back_to_pending  # noqa: F401

# One guarded UPDATE each: the allowed source states (engine/states.py) are a
# parameter, so a job that left them meanwhile is skipped, never forced.
# SKIP LOCKED: a started job's row stays locked by its worker until the job's
# transaction ends, and a job being claimed is locked for a moment; the
# backend request must not wait on either, so such rows are left out and the
# caller reports them as not changed. FOR NO KEY UPDATE, as in CLAIM.

# Requeue (and "run now"): back to pending, eta now, full retries again,
# under the supersede rule (sql.back_to_pending). The NOTIFY wakes idle
# workers once the admin's transaction commits.
# ``top_priority``: run before everything else waiting (priority 0 or lower).
ADMIN_REQUEUE = """
WITH target AS (
    SELECT id FROM queue_job
    WHERE id = ANY(%(ids)s) AND state = ANY(%(from_states)s)
    FOR NO KEY UPDATE SKIP LOCKED
), requeued AS (
    UPDATE queue_job job
    SET {back_to_pending}, eta = {now},
        retry = CASE WHEN job.state = 'pending' THEN job.retry ELSE 0 END,
        priority = CASE WHEN %(top_priority)s THEN LEAST(job.priority, 0)
                        ELSE job.priority END,
        date_started = NULL
    FROM target
    WHERE job.id = target.id
    RETURNING job.id
)
SELECT id, pg_notify('{channel}', '') FROM requeued
""".format(now=NOW_UTC, channel=CHANNEL, back_to_pending=back_to_pending())

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
# UPDATE lock it would take anyway, on the rows and on every job of the
# batches among them: the cascade deletes those too, and would wait on a
# running one's lock.
LOCK_FOR_WRITE_NOWAIT = """
SELECT id FROM queue_job WHERE id = ANY(%(ids)s) FOR NO KEY UPDATE NOWAIT
"""

LOCK_FOR_DELETE_NOWAIT = """
WITH RECURSIVE tree AS (
    SELECT id FROM queue_job WHERE id = ANY(%(ids)s)
    UNION
    SELECT child.id FROM queue_job child JOIN tree ON child.parent_id = tree.id
)
SELECT id FROM queue_job WHERE id IN (SELECT id FROM tree) FOR UPDATE NOWAIT
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
