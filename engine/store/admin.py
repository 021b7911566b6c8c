"""Admin changes: the backend's buttons and list actions on jobs, and the
locks its writes and deletes take first."""
from __future__ import annotations

from typing import Iterable

from ..job_row import CLOCK_UTC, NOW_UTC
from . import supersede
from .jobs import NOTIFY_CHANNEL

# One guarded UPDATE each: the allowed source states (engine/states.py) are a
# parameter, so a job that left them meanwhile is skipped, never forced.
# SKIP LOCKED: a started job's row stays locked by its worker until the job's
# transaction ends, and a job being claimed is locked for a moment; the
# backend request must not wait on either, so such rows are left out and the
# caller reports them as not changed. FOR NO KEY UPDATE, as in the claim.
# The jobs to change: TARGET opens each statement.
TARGET = """
WITH target AS (
    SELECT id FROM queue_job
    WHERE id = ANY(%(ids)s) AND state = ANY(%(from_states)s)
    FOR NO KEY UPDATE SKIP LOCKED
)"""

# Requeue (and "run now"): back to pending, eta now, full retries again,
# under the supersede rule (supersede.back_to_pending). The NOTIFY wakes
# idle workers once the admin's transaction commits.
# ``top_priority``: run before everything else waiting (priority 0 or lower).
ADMIN_REQUEUE = """{target}, requeued AS (
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
""".format(now=NOW_UTC, channel=NOTIFY_CHANNEL, target=TARGET,
           back_to_pending=supersede.back_to_pending())

ADMIN_CANCEL = """{target}
UPDATE queue_job job
SET state = 'cancelled', date_done = {end}, worker_id = NULL
FROM target
WHERE job.id = target.id
RETURNING job.id
""".format(end=CLOCK_UTC, target=TARGET)

# The result says who closed the job by hand, so nobody mistakes it for a run.
ADMIN_SET_DONE = """{target}
UPDATE queue_job job
SET state = 'done', date_done = {end}, worker_id = NULL, result = %(result)s
FROM target
WHERE job.id = target.id
RETURNING job.id
""".format(end=CLOCK_UTC, target=TARGET)

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


def admin_requeue(cr, job_ids: Iterable[int], from_states: Iterable[str],
                  top_priority: bool = False) -> list:
    """Requeue the jobs that are in ``from_states`` and not locked (under the
    supersede rule, supersede.back_to_pending); wakes the workers on commit.
    Returns the ids changed; a job that cannot be requeued is logged and
    left out."""
    params = {'ids': list(job_ids), 'from_states': list(from_states),
              'top_priority': top_priority}
    rows = supersede.run(cr, ADMIN_REQUEUE, params, 'requeue', attempts=1)
    if rows is None:
        rows = supersede.run_each(cr, ADMIN_REQUEUE, params, 'ids', params['ids'])
    return [row[0] for row in rows]


def admin_cancel(cr, job_ids: Iterable[int], from_states: Iterable[str]) -> list:
    cr.execute(ADMIN_CANCEL, {'ids': list(job_ids), 'from_states': list(from_states)})
    return [row[0] for row in cr.fetchall()]


def admin_set_done(cr, job_ids: Iterable[int], from_states: Iterable[str],
                   result: str) -> list:
    cr.execute(ADMIN_SET_DONE, {'ids': list(job_ids), 'from_states': list(from_states),
                                'result': result})
    return [row[0] for row in cr.fetchall()]


def lock_nowait(cr, job_ids: Iterable[int], delete: bool = False, **execute_options) -> None:
    """Lock the jobs' rows or raise psycopg2's LockNotAvailable at once.
    ``execute_options`` go to ``cr.execute`` (with Odoo's cursor,
    ``log_exceptions=False``: the lock error is expected, not a bad query)."""
    statement = LOCK_FOR_DELETE_NOWAIT if delete else LOCK_FOR_WRITE_NOWAIT
    cr.execute(statement, {'ids': list(job_ids)}, **execute_options)
