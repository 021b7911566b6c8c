"""Moved to engine/store/batches.py. These names stay for engine/batch.py
and models/queue_job_batch.py until the parts of issue 9 are merged."""
from .store.batches import DONE_JOB_MAX_RETRIES, DONE_JOB_METHOD, DONE_JOB_MODEL  # noqa: F401
