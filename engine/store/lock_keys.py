"""One at a time per key: what the claim and the idle worker's sleep ask of
a job that has a ``lock_key``.

Jobs with the same lock_key never run at the same time, on any server, and
start in (priority, eta, id) order among those whose eta has passed; jobs
with other keys, or none, are not held up. A job without key costs the
claim one NULL test.
"""
from __future__ import annotations

from ..job_row import NOW_UTC

# The partial unique index (engine/schema.py) that settles the race the
# snapshot checks below cannot: two claims whose snapshots both saw the key
# free. The second claim's update then fails on it (after waiting for the
# first claim's commit) and the claimer tries again.
STARTED_KEY_INDEX = 'queue_job_lock_key_started_uniq'

# The job ``job`` may start: no job of its key runs, and no pending job of
# its key, due, comes before it in (priority, eta, id) order (so a claim
# that skipped the first job of a key, locked by another claim, does not
# take the second). Both are probes of partial indexes that only jobs with
# a key enter (engine/schema.py). They live in a PL/pgSQL function, which
# the planner cannot inline: the claim's plan keeps one function call
# instead of two subplans, which every claim would pay for (PostgreSQL
# sets a statement's subplans up again whenever a claim meets a row that a
# concurrent claim has just taken), also for jobs without key.
KEY_FREE_FUNCTION = """
CREATE OR REPLACE FUNCTION background_job_lock_key_free(
    key varchar, job_priority integer, job_eta timestamp, job_id integer)
RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN NOT EXISTS (SELECT 1 FROM queue_job holder
                       WHERE holder.state = 'started' AND holder.lock_key = key)
       AND NOT EXISTS (SELECT 1 FROM queue_job earlier
                       WHERE earlier.state = 'pending' AND earlier.lock_key = key
                         AND earlier.eta <= {now}
                         AND (earlier.priority, earlier.eta, earlier.id)
                             < (job_priority, job_eta, job_id));
END $$""".format(now=NOW_UTC)
# A job without key costs the claim one NULL test. CASE, not OR: the
# planner estimates a CASE at one half whatever the statistics say, the
# claim's old channel condition's estimate, while lock_key IS NULL on a
# table analyzed empty (a drained queue) is estimated at 0.5%: the claim's
# plan would then turn into a sort of every pending job, for every claim.
KEY_FREE = ('CASE WHEN job.lock_key IS NULL THEN true ELSE '
            'background_job_lock_key_free(job.lock_key, job.priority, job.eta, job.id) END')


def check(lock_key):
    """``lock_key`` if it is None or a non-empty string, else ValueError."""
    if lock_key is not None and not (isinstance(lock_key, str) and lock_key):
        raise ValueError('lock_key must be a non-empty string, not %r' % (lock_key,))
    return lock_key
