"""The fast claim as it was on 2026-12-01 (commit 509d6d8), before pauses,
lock keys, nested capacities and rate limits: `make bench` runs the raw
claim-and-complete loop with it beside today's claim, in the same rounds,
so that the cost of those features on the plain claim is a same-run ratio.
Frozen text on purpose: it is the reference, not code to keep in step."""

PREPARE = """
PREPARE background_job_claim_before(integer) AS
WITH next_job AS (
    SELECT id FROM queue_job
    WHERE state = 'pending' AND eta <= (now() AT TIME ZONE 'UTC')
      AND channel NOT IN (SELECT name FROM queue_job_channel WHERE capacity > 0)
    ORDER BY priority, eta, id
    LIMIT 1
    FOR NO KEY UPDATE SKIP LOCKED
)
UPDATE queue_job job
SET state = 'started', worker_id = $1, date_started = (now() AT TIME ZONE 'UTC'),
    date_done = NULL
FROM next_job
WHERE job.id = next_job.id
RETURNING job.id, job.uuid, job.model_name, job.method_name, job.record_ids, job.args,
          job.kwargs, job.context, job.user_id, job.company_id, job.channel, job.retry,
          job.max_retries, job.timeout, job.parent_id,
          (SELECT capacity FROM queue_job_channel WHERE name = job.channel)
"""
EXECUTE = 'EXECUTE background_job_claim_before(%(worker_id)s)'


def prepare(cr) -> None:
    cr.execute(PREPARE)


def claim(cr, worker_id: int):
    """The claimed job's id, or None."""
    cr.execute(EXECUTE, {'worker_id': worker_id})
    row = cr.fetchone()
    return row and row[0]
