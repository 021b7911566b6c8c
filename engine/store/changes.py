"""The change markers the live backend polls (static/src/js/live_backend.js):
two sequences that statement and row triggers (engine/schema.py) advance on
every change of the jobs (queue_job, queue_job_progress) and of the
workers (queue_job_worker). Reading them costs the same with 1,000,000 jobs
as with none; the job statements pay one nextval() each."""

JOB_CHANGES = 'background_job_job_changes'
WORKER_CHANGES = 'background_job_worker_changes'
SEQUENCES = (JOB_CHANGES, WORKER_CHANGES)

# last_value of a sequence is read without a lock and sees other sessions'
# nextval() at once (sequences are not transactional): a marker can move
# just before the change commits, which the client covers by reloading once
# more after a change (live_backend.js).
CHANGE_MARKERS = """
SELECT (SELECT last_value FROM {jobs}), (SELECT last_value FROM {workers})
""".format(jobs=JOB_CHANGES, workers=WORKER_CHANGES)


def change_markers(cr) -> dict:
    """{'jobs': marker, 'workers': marker}: each changes when its tables did."""
    cr.execute(CHANGE_MARKERS)
    jobs, workers = cr.fetchone()
    return {'jobs': jobs, 'workers': workers}
