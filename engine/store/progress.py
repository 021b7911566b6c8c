"""Running jobs' progress (engine/progress.py): the table queue_job_progress
(engine/schema.py), one row per job that reported, written on a connection
that is not the job's own."""
from __future__ import annotations

from typing import Iterable

from ..job_row import NOW_UTC

# The reporter's upsert: autocommitted on the job thread's claim connection,
# which is idle while its job runs, so it never waits on the job's row lock
# (the foreign key's KEY SHARE check, on the first write only, does not
# conflict with the job's FOR NO KEY UPDATE) and the job's rollback cannot
# undo it. The row remembers the attempt by the job's date_started: a retry
# starts from nothing (PROGRESS_OF_JOBS). Read from the job's row, not
# passed, so that the writer needs no more than the job's id.
WRITE_PROGRESS = """
INSERT INTO queue_job_progress AS progress
       (job_id, attempt_started, done, total, message, write_date)
SELECT id, date_started, %(done)s, %(total)s, %(message)s, {now}
FROM queue_job WHERE id = %(job_id)s
ON CONFLICT (job_id) DO UPDATE
SET attempt_started = excluded.attempt_started, done = excluded.done,
    total = excluded.total, message = excluded.message, write_date = excluded.write_date
""".format(now=NOW_UTC)


def write_progress(cr, job_id: int, value) -> None:
    """Store ``value`` (a progress.Reported) as the job's progress."""
    cr.execute(WRITE_PROGRESS, {'job_id': job_id, 'done': value.done, 'total': value.total,
                                'message': value.message})


# What the backend shows: the progress of the job's current attempt, or of
# its last one (done, failed, or pending for a retry until it starts again).
PROGRESS_OF_JOBS = """
SELECT progress.job_id, progress.done, progress.total, progress.message, progress.write_date
FROM queue_job_progress progress
JOIN queue_job job ON job.id = progress.job_id
                  AND job.date_started = progress.attempt_started
WHERE progress.job_id = ANY(%(job_ids)s)
"""


def progress_of_jobs(cr, job_ids: Iterable[int]) -> dict:
    """{job id: (done, total, message, write date)} of the jobs that reported."""
    cr.execute(PROGRESS_OF_JOBS, {'job_ids': list(job_ids)})
    return {row[0]: row[1:] for row in cr.fetchall()}


# A batch counts its running children's partial progress: the share each
# has done (at most 1) summed per batch, from the running children only
# (index queue_job_parent_state_idx) and their progress rows.
RUNNING_CHILDREN_PROGRESS = """
SELECT child.parent_id, sum(least(progress.done / progress.total, 1))
FROM queue_job child
JOIN queue_job_progress progress ON progress.job_id = child.id
                                AND progress.attempt_started = child.date_started
WHERE child.parent_id = ANY(%(batch_ids)s) AND child.state = 'started'
  AND progress.total > 0
GROUP BY child.parent_id
"""


def running_children_progress(cr, batch_ids: Iterable[int]) -> dict:
    """{batch id: the summed done share (0 to 1 each) of its running jobs}."""
    cr.execute(RUNNING_CHILDREN_PROGRESS, {'batch_ids': list(batch_ids)})
    return dict(cr.fetchall())
