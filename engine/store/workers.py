"""Workers: their rows (registered, beating, stopped, purged), and the
jobs of workers that died (the reaper)."""
from __future__ import annotations

from typing import Iterable

from ..job_row import NOW_UTC
from . import supersede

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

# Orphaned jobs are requeued, counted as a retry, or failed when out of
# retries (retry then stays at max_retries, as after a failed attempt). A
# running job's row is locked by its transaction, so SKIP LOCKED leaves
# every running job alone, and any started job whose row is NOT
# locked is an orphan once dead_after has passed since it started (its
# worker died, or could not even record the job's failure). Jobs of a
# worker known to be dead (a local process that no longer exists, a worker
# row gone or marked stopped, no heartbeat for dead_after) are requeued
# without that wait. A worker marks itself stopped only once none of its
# jobs runs; a supervisor marks a job process that died (MARK_PROCESS_DEAD).
ORPHAN_CONDITION = """job.state = 'started'
      AND (worker.id IS NULL OR worker.id = ANY(%(dead_worker_ids)s)
           OR worker.date_stopped IS NOT NULL
           OR worker.last_beat < {now} - make_interval(secs => %(dead_after)s)
           OR job.date_started < {now} - make_interval(secs => %(dead_after)s))""".format(now=NOW_UTC)

# ``job_ids``: NULL, or only these jobs (requeue_orphans' row-by-row fallback).
REQUEUE_ORPHANS = """
WITH orphan AS (
    SELECT job.id, worker.exit_reason FROM queue_job job
    LEFT JOIN queue_job_worker worker ON worker.id = job.worker_id
    WHERE {orphan}
      AND (%(job_ids)s::integer[] IS NULL OR job.id = ANY(%(job_ids)s::integer[]))
    FOR NO KEY UPDATE OF job SKIP LOCKED
)
UPDATE queue_job job
SET {back_to_pending},
    retry = job.retry + CASE WHEN job.retry < job.max_retries THEN 1 ELSE 0 END,
    eta = {now}, exc_type = 'WorkerDied'
FROM orphan
WHERE job.id = orphan.id
RETURNING job.id, job.state
""".format(now=NOW_UTC, orphan=ORPHAN_CONDITION, back_to_pending=supersede.back_to_pending(
    pending='job.retry < job.max_retries',
    exc_message="COALESCE(orphan.exit_reason, 'The worker running this job stopped "
                "(killed or lost) before it finished.')"))

# A supervisor saw a job process of this host die (killed for memory, a
# segfault, a signal): its worker rows are marked stopped with the reason,
# which the reaper gives the jobs it was running (REQUEUE_ORPHANS). Sent
# while the dead pid still exists (a zombie), so no reaper requeues them
# first with a vaguer reason.
MARK_PROCESS_DEAD = """
UPDATE queue_job_worker SET date_stopped = {now}, exit_reason = %(reason)s
WHERE host = %(host)s AND pid = %(pid)s AND date_stopped IS NULL
""".format(now=NOW_UTC)

# The candidate orphans, for the row-by-row fallback (which skips locked rows).
LIST_ORPHANS = """
SELECT job.id FROM queue_job job
LEFT JOIN queue_job_worker worker ON worker.id = job.worker_id
WHERE {orphan}
ORDER BY job.id
""".format(orphan=ORPHAN_CONDITION)


def register_worker(cr, uuid: str, host: str, pid: int, threads: int) -> int:
    cr.execute(REGISTER_WORKER, {'uuid': uuid, 'host': host, 'pid': pid, 'threads': threads})
    return cr.fetchone()[0]


def heartbeat(cr, worker_id: int) -> bool:
    """False when the worker's row is gone (removed by an admin or a purge)."""
    cr.execute(HEARTBEAT, {'worker_id': worker_id})
    return cr.rowcount == 1


def unregister_worker(cr, worker_id: int) -> None:
    cr.execute(UNREGISTER_WORKER, {'worker_id': worker_id})


def mark_process_dead(cr, host: str, pid: int, reason: str) -> None:
    """Mark the workers of a dead job process stopped, with why it died."""
    cr.execute(MARK_PROCESS_DEAD, {'host': host, 'pid': pid, 'reason': reason})


def local_workers(cr, host: str, worker_id: int) -> list:
    """[(id, pid)] of the other workers of this host that have started jobs."""
    cr.execute(LOCAL_WORKERS, {'host': host, 'worker_id': worker_id})
    return cr.fetchall()


def purge_workers(cr, days: int) -> int:
    """Remove rows of workers gone for ``days`` days that no job refers to."""
    cr.execute(PURGE_WORKERS, {'days': days})
    return cr.rowcount


def requeue_orphans(cr, dead_after: float, dead_worker_ids: Iterable[int] = ()) -> list:
    """Requeue (or fail) jobs whose worker died; returns [(id, new state)].
    A job that cannot be requeued is logged and left for the next pass:
    it never keeps the others from being requeued."""
    params = {'dead_after': float(dead_after), 'dead_worker_ids': list(dead_worker_ids),
              'job_ids': None}
    rows = supersede.run(cr, REQUEUE_ORPHANS, params, 'orphans', attempts=1)
    if rows is not None:
        return rows
    cr.execute(LIST_ORPHANS, params)
    return supersede.run_each(cr, REQUEUE_ORPHANS, params, 'job_ids',
                              [row[0] for row in cr.fetchall()])
