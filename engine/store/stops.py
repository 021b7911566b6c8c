"""Stop requests for running jobs (queue.job.stop()), and how the workers
take them in.

A running job's row is locked by its attempt until it ends, so a stop
request cannot be an update of that row (it would wait for the job to
end). It is a row of its own, in queue_job_stop_request (engine/schema.py),
for that attempt of the job (its date_started), with a NOTIFY on
STOP_CHANNEL: the control thread of every worker LISTENs, and the one that
runs the job acts on it (engine/worker.py); a worker that missed the
notification finds the request at its next poll.
"""
from __future__ import annotations

from typing import Iterable

from ..job_row import NOW_UTC

STOP_CHANNEL = 'background_job_stop'

# One request per job: asked again (or for a later attempt), it is renewed.
# Only started jobs: the caller tells the others apart (returned ids). The
# row's date_started is read without its lock (a plain read never waits on
# the running attempt). The NOTIFY is sent when the caller's transaction
# commits.
REQUEST_STOP = """
WITH requested AS (
    INSERT INTO queue_job_stop_request (job_id, date_started, requested_by, date_requested)
    SELECT id, date_started, %(by)s, {now} FROM queue_job
    WHERE id = ANY(%(ids)s) AND state = 'started'
    ON CONFLICT (job_id) DO UPDATE
    SET date_started = EXCLUDED.date_started, requested_by = EXCLUDED.requested_by,
        date_requested = EXCLUDED.date_requested
    RETURNING job_id
)
SELECT job_id, pg_notify('{channel}', job_id::text) FROM requested
""".format(now=NOW_UTC, channel=STOP_CHANNEL)

# A worker takes the requests for the jobs it runs (and so removes them;
# one for an earlier attempt of such a job goes too, unheeded). One indexed
# statement, run only while the worker runs jobs.
TAKE_STOP_REQUESTS = """
DELETE FROM queue_job_stop_request WHERE job_id = ANY(%(job_ids)s)
RETURNING job_id, date_started, requested_by
"""


# The purge cron: requests that no attempt will take any more (the job
# ended, or runs again, before its worker saw the request).
PURGE_STOP_REQUESTS = """
DELETE FROM queue_job_stop_request request
WHERE NOT EXISTS (SELECT 1 FROM queue_job job
                  WHERE job.id = request.job_id AND job.state = 'started'
                    AND job.date_started = request.date_started)
"""


def request_stop(cr, job_ids: Iterable[int], by: str) -> list:
    """Ask the workers to stop these jobs (in the caller's transaction);
    returns the ids of those that were running."""
    cr.execute(REQUEST_STOP, {'ids': list(job_ids), 'by': by})
    return [row[0] for row in cr.fetchall()]


def take_stop_requests(cr, job_ids: Iterable[int]) -> list:
    """[(job id, date_started, requested by)] of the requests for these
    running jobs, removed (``cr`` autocommits)."""
    cr.execute(TAKE_STOP_REQUESTS, {'job_ids': list(job_ids)})
    return cr.fetchall()


def purge_stop_requests(cr) -> int:
    cr.execute(PURGE_STOP_REQUESTS)
    return cr.rowcount
