"""Batches: the statements that split, finish, cancel and requeue them,
each next to the function that runs it (engine/batch.py is the logic)."""
from __future__ import annotations

from typing import Iterable, Optional

from .. import defaults, job_row
from ..job_row import CLOCK_UTC, NEW_UUID, NOW_UTC
from . import supersede
from .jobs import NOTIFY_CHANNEL

# A whole batch in one statement: the parent (state waiting: the claim only
# takes pending jobs, so it never runs itself) and one child per job_size
# ids. The split happens inside PostgreSQL: the ids travel once, as one array
# literal, and WITH ORDINALITY keeps the caller's order, so 1,000,000 ids
# are one round trip and seconds of work, not one INSERT per child. The
# children reference a parent inserted by the same statement: foreign keys
# are checked at its end. Both rows are delay()'s row (job_row.ENQUEUE_COLUMNS)
# but for what a batch and its children write otherwise, and no identity_key.
ENQUEUE_BATCH = """
WITH batch AS (
    {insert_batch}
    RETURNING id
), chunk AS (
    SELECT (position - 1) / %(job_size)s AS number,
           json_agg(id ORDER BY position)::text AS record_ids
    FROM unnest(%(ids)s::integer[]) WITH ORDINALITY AS given (id, position)
    GROUP BY 1
), child AS (
    {insert_children}
    FROM batch, chunk
    ORDER BY chunk.number
    RETURNING id
)
SELECT batch.id, (SELECT count(*) FROM child), pg_notify('{channel}', '')
FROM batch
""".format(
    channel=NOTIFY_CHANNEL,
    insert_batch=job_row.insert_values(dict(
        job_row.parameters(job_row.ENQUEUE_COLUMNS + ('job_size', 'done_method', 'job_res_id')),
        name='%(batch_name)s', record_ids="'[]'", eta=NOW_UTC, state="'waiting'",
        identity_key=None, is_batch='true')),
    insert_children=job_row.insert_select(dict(
        job_row.parameters(job_row.ENQUEUE_COLUMNS), uuid=NEW_UUID,
        record_ids='chunk.record_ids', eta=NOW_UTC, identity_key=None,
        parent_id='batch.id')))


def enqueue_batch(cr, values: dict, ids: Iterable[int], job_size: int,
                  done_method: Optional[str], job_res_id: Optional[int],
                  batch_name: str) -> tuple:
    """Insert a batch and its children (``values``: delay()'s row,
    job_row.ENQUEUE_COLUMNS, shared by the children); returns (batch id,
    number of children)."""
    params = dict(values, ids='{%s}' % ','.join(str(int(i)) for i in ids),
                  job_size=job_size, done_method=done_method,
                  job_res_id=job_res_id or None, batch_name=batch_name)
    cr.execute(ENQUEUE_BATCH, params)
    batch_id, children, _ = cr.fetchone()
    return batch_id, children


# The batch a job belongs to. A batch started by a job joins the job's
# batch (nested batches), so that the outer batch waits for the inner one.
BATCH_OF_JOB = """
SELECT parent_id FROM queue_job WHERE id = %(job_id)s
"""

def batch_of_job(cr, job_id: int) -> Optional[int]:
    """The batch this job belongs to (a batch it starts joins it)."""
    cr.execute(BATCH_OF_JOB, {'job_id': job_id})
    row = cr.fetchone()
    return row[0] if row else None


# The batches whose end these jobs may decide, once they ended: the batch
# each belongs to, and for a done job the batch it ran the done method of
# (a done job that failed, was cancelled or set done ends that batch).
BATCHES_OF_JOBS = """
SELECT parent_id FROM queue_job
WHERE id = ANY(%(job_ids)s) AND parent_id IS NOT NULL
UNION
SELECT id FROM queue_job WHERE done_job_id = ANY(%(job_ids)s)
"""

def batches_of_jobs(cr, job_ids: Iterable[int]) -> list:
    """The batches these ended jobs may have ended: the batches they belong
    to, and the batches whose done job they are."""
    cr.execute(BATCHES_OF_JOBS, {'job_ids': list(job_ids)})
    return [row[0] for row in cr.fetchall()]


# Finishing batches takes two statements in one READ COMMITTED transaction
# that began after the finishing child's own transaction committed. Checked
# inside the child's transaction (a REPEATABLE READ Odoo cursor), two last
# children finishing together would each see the other still running, and
# the done method would wait for the cron.
#
# 1. Lock the batches that look complete: not one unfinished child (a nested
#    batch counts until it ended) and either no done job yet, or a done job
#    that ended without ending the batch (failed for good, cancelled, or set
#    done by hand); also a failed batch whose failed done job was then set
#    done by hand. Concurrent finishers queue on the row lock; the winner
#    changes the row, and a waiter re-checks it as the winner left it (READ
#    COMMITTED), so it skips. In a REPEATABLE READ transaction (the cron), a
#    row changed since the snapshot raises a serialization error instead:
#    never a second done job. A done job that is running locks its batch
#    (LOCK_BATCH_FOR_DONE) but is not ended, so its batch is never waited for.
COMPLETE_BATCH = """
batch.is_batch
AND (batch.state = 'waiting' AND (batch.done_job_id IS NULL
                                  OR done_job.state IN ('done', 'failed', 'cancelled'))
     OR batch.state = 'failed' AND done_job.state = 'done')
AND NOT EXISTS (SELECT 1 FROM queue_job child
                WHERE child.parent_id = batch.id
                  AND child.state IN ('waiting', 'pending', 'started'))
"""

LOCK_COMPLETE_BATCHES = """
SELECT batch.id FROM queue_job batch
LEFT JOIN queue_job done_job ON done_job.id = batch.done_job_id
WHERE (%(batch_ids)s::integer[] IS NULL OR batch.id = ANY(%(batch_ids)s::integer[]))
  AND {complete}
ORDER BY batch.id
FOR NO KEY UPDATE OF batch
""".format(complete=COMPLETE_BATCH)

# The job that runs a batch's done method: models/queue_job_batch.py.
DONE_JOB_MODEL = 'queue.job'
DONE_JOB_METHOD = '_run_batch_done_method'
DONE_JOB_MAX_RETRIES = defaults.MAX_RETRIES

# 2. With the locks held, check again and end each complete batch. Only
#    this check is exact: its snapshot is taken after the locks were granted
#    (requeue_batch, which reopens jobs, updates the batch row, so step 1
#    waited for it). A batch without done job yet: without done method it
#    ends done; with one it gets the job that runs it, its id drawn first so
#    that the batch can point to it. That job joins the batch's own batch
#    (nested batches): the outer batch waits for the inner done method too.
#    A batch whose done job ended otherwise takes that job's state (done,
#    failed: done method failed, cancelled). FOR NO KEY UPDATE again: a no-op
#    after step 1, a guard without it. Returns (batch, outer batch, its new
#    state, new done job or NULL).
FINISH_BATCHES = """
WITH complete AS (
    SELECT batch.id,
           CASE WHEN batch.done_job_id IS NULL AND batch.done_method IS NOT NULL
                THEN nextval(pg_get_serial_sequence('queue_job', 'id')) END AS new_done_job_id,
           CASE WHEN batch.done_job_id IS NOT NULL THEN done_job.state
                WHEN batch.done_method IS NOT NULL THEN 'waiting'
                ELSE 'done' END AS new_state
    FROM queue_job batch
    LEFT JOIN queue_job done_job ON done_job.id = batch.done_job_id
    WHERE batch.id = ANY(%(batch_ids)s) AND {complete}
    FOR NO KEY UPDATE OF batch
), done_job AS (
    {insert_done_job}
    FROM complete JOIN queue_job batch ON batch.id = complete.id
    WHERE complete.new_done_job_id IS NOT NULL
)
UPDATE queue_job batch
SET done_job_id = COALESCE(complete.new_done_job_id, batch.done_job_id),
    state = complete.new_state,
    date_done = CASE WHEN complete.new_state <> 'waiting' THEN {end} END
FROM complete
WHERE batch.id = complete.id
RETURNING batch.id, batch.parent_id, batch.state, complete.new_done_job_id,
          pg_notify('{channel}', '')
""".format(end=CLOCK_UTC, channel=NOTIFY_CHANNEL, complete=COMPLETE_BATCH,
           insert_done_job=job_row.insert_select({
               'id': 'complete.new_done_job_id', 'name': "'Batch done: ' || batch.done_method",
               'model_name': '%(done_job_model)s', 'method_name': '%(done_job_method)s',
               'record_ids': 'json_build_array(batch.id)::text', 'context': 'batch.context',
               'user_id': 'batch.user_id', 'company_id': 'batch.company_id',
               'channel': 'batch.channel', 'priority': 'batch.priority',
               'max_retries': '%(done_job_max_retries)s', 'parent_id': 'batch.parent_id'}))

def finish_batches(cr, batch_ids: Optional[Iterable[int]], **execute_options) -> list:
    """End the complete batches among ``batch_ids`` (None: all of them):
    enqueue their done method, or mark them done. Run it in a transaction
    that began after the finishing child's committed (see
    LOCK_COMPLETE_BATCHES). Returns the outer batches of the batches that
    ended here (done, failed or cancelled): they may be complete now, check them next, in a new
    transaction once this one committed. ``execute_options`` go to
    ``cr.execute`` (the cron passes Odoo's ``log_exceptions=False``: a
    serialization failure there is expected and handled)."""
    if batch_ids is not None:
        batch_ids = list(batch_ids)
        if not batch_ids:
            return []
    cr.execute(LOCK_COMPLETE_BATCHES, {'batch_ids': batch_ids}, **execute_options)
    locked = [row[0] for row in cr.fetchall()]
    if not locked:
        return []
    cr.execute(FINISH_BATCHES, {
        'batch_ids': locked, 'done_job_model': DONE_JOB_MODEL,
        'done_job_method': DONE_JOB_METHOD,
        'done_job_max_retries': DONE_JOB_MAX_RETRIES}, **execute_options)
    return sorted({outer for _, outer, state, _, _ in cr.fetchall()
                   if outer and state != 'waiting'})


# First statement of the done job's method, in the done job's transaction:
# lock the batch it was enqueued for. No row: the batch was requeued or
# cancelled since (it points to another done job, or to none), and the done
# method must not run for it. A batch that ended failed with this done job
# (its done method failed for good) waits for it again when the job is run
# again by hand (Run Now).
LOCK_BATCH_FOR_DONE = """
SELECT id FROM queue_job
WHERE id = %(batch_id)s AND state IN ('waiting', 'failed') AND done_job_id = %(done_job_id)s
FOR NO KEY UPDATE
"""

def lock_batch_for_done(cr, batch_id: int, done_job_id: Optional[int]) -> bool:
    """In the done job's transaction: False if the batch no longer waits
    for this done job (requeued or cancelled since)."""
    cr.execute(LOCK_BATCH_FOR_DONE, {'batch_id': batch_id, 'done_job_id': done_job_id})
    return cr.fetchone() is not None


# Last statement of the done job's method: the batch ends with the done
# method's effects, in the same transaction.
MARK_BATCH_DONE = """
UPDATE queue_job SET state = 'done', date_done = {end}
WHERE id = %(batch_id)s AND state IN ('waiting', 'failed')
  AND done_job_id IS NOT DISTINCT FROM %(done_job_id)s
""".format(end=CLOCK_UTC)

def mark_batch_done(cr, batch_id: int, done_job_id: Optional[int]) -> None:
    cr.execute(MARK_BATCH_DONE, {'batch_id': batch_id, 'done_job_id': done_job_id})


# Progress: one grouped count over the children (index
# queue_job_parent_state_idx), never a read of the child rows.
BATCH_PROGRESS = """
SELECT parent_id, state, count(*) FROM queue_job
WHERE parent_id = ANY(%(batch_ids)s)
GROUP BY parent_id, state
"""

def batch_progress(cr, batch_ids: Iterable[int]) -> dict:
    """{batch id: {child state: count}}."""
    cr.execute(BATCH_PROGRESS, {'batch_ids': list(batch_ids)})
    counts: dict = {}
    for batch_id, state, count in cr.fetchall():
        counts.setdefault(batch_id, {})[state] = count
    return counts


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
    SET state = 'cancelled', date_done = {end}, worker_id = NULL
    FROM target
    WHERE job.id = target.id
    RETURNING job.id, job.parent_id
)
SELECT DISTINCT parent_id FROM cancelled
WHERE id = ANY(%(batch_ids)s) AND parent_id IS NOT NULL
""".format(end=CLOCK_UTC)

def cancel_batches(cr, batch_ids: Iterable[int]) -> list:
    """Cancel waiting batches (see CANCEL_BATCHES); returns their outer
    batches, to check for completion."""
    cr.execute(CANCEL_BATCHES, {'batch_ids': list(batch_ids)})
    return [row[0] for row in cr.fetchall()]


# Requeue batches: the failed and cancelled children of them and of their
# nested batches run again with full retries (under the supersede rule,
# supersede.back_to_pending), and every batch that gets work
# back (and its outer batches, up to the ones named) waits again with no
# done job: the done method runs once more, once, when they have finished.
# A pending done job of such a batch is cancelled (its batch will get a new
# one). A batch that ended failed or cancelled with its done job reopens
# too, so its done method runs again; the old done job stays as it ended
# (it is no plain job to requeue: its batch gets a new one). Returns the
# reopened batches (one with nothing left to run is complete at once).
REQUEUE_BATCHES = """
WITH RECURSIVE tree AS (
    SELECT id FROM queue_job WHERE id = ANY(%(batch_ids)s) AND is_batch
    UNION
    SELECT child.id FROM queue_job child JOIN tree ON child.parent_id = tree.id
    WHERE child.is_batch
), requeued AS (
    UPDATE queue_job job
    SET {back_to_pending}, eta = {now}, retry = 0, date_started = NULL
    WHERE job.parent_id IN (SELECT id FROM tree) AND job.is_batch IS NOT TRUE
      AND job.state IN ('failed', 'cancelled')
      AND (job.model_name, job.method_name) <> (%(done_job_model)s, %(done_job_method)s)
    RETURNING job.parent_id
), reopen AS (
    SELECT parent_id AS id FROM requeued
    UNION
    SELECT id FROM queue_job WHERE id IN (SELECT id FROM tree)
                               AND state IN ('cancelled', 'failed')
    UNION
    SELECT batch.parent_id FROM queue_job batch JOIN reopen ON batch.id = reopen.id
    WHERE batch.parent_id IN (SELECT id FROM tree)
), old_done_job AS (
    UPDATE queue_job job
    SET state = 'cancelled', date_done = {end}
    WHERE job.state = 'pending'
      AND job.id IN (SELECT done_job_id FROM queue_job WHERE id IN (SELECT id FROM reopen))
), reopened AS (
    UPDATE queue_job batch
    SET state = 'waiting', date_done = NULL, done_job_id = NULL
    WHERE batch.id IN (SELECT id FROM reopen)
    RETURNING batch.id
)
SELECT id, pg_notify('{channel}', '') FROM reopened
""".format(now=NOW_UTC, end=CLOCK_UTC, channel=NOTIFY_CHANNEL,
           back_to_pending=supersede.back_to_pending())


def requeue_batches(cr, batch_ids: Iterable[int]) -> list:
    """Requeue failed and cancelled children (see REQUEUE_BATCHES);
    returns the batches that wait again."""
    cr.execute(REQUEUE_BATCHES, {
        'batch_ids': list(batch_ids), 'done_job_model': DONE_JOB_MODEL,
        'done_job_method': DONE_JOB_METHOD})
    return [row[0] for row in cr.fetchall()]
