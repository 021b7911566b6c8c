"""Moved: the engine's SQL is in engine/store/ (one module per subject) and
the job row in engine/job_row.py. This name stays for engine/worker.py
until the parts of issue 9 are merged; then import store.NOTIFY_CHANNEL."""
from .store.jobs import NOTIFY_CHANNEL as CHANNEL  # noqa: F401
