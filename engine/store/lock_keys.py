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
# a key enter (engine/schema.py).
KEY_FREE = """(job.lock_key IS NULL OR (
    NOT EXISTS (SELECT 1 FROM queue_job holder
                WHERE holder.state = 'started' AND holder.lock_key = job.lock_key)
    AND NOT EXISTS (SELECT 1 FROM queue_job earlier
                    WHERE earlier.state = 'pending' AND earlier.lock_key = job.lock_key
                      AND earlier.eta <= {now}
                      AND (earlier.priority, earlier.eta, earlier.id)
                          < (job.priority, job.eta, job.id))))""".format(now=NOW_UTC)


def check(lock_key):
    """``lock_key`` if it is None or a non-empty string, else ValueError."""
    if lock_key is not None and not (isinstance(lock_key, str) and lock_key):
        raise ValueError('lock_key must be a non-empty string, not %r' % (lock_key,))
    return lock_key
