"""The only package that runs the engine's SQL, one module per subject,
each statement next to the function that runs it:

- jobs.py: enqueue, run_now's record, the idle worker's sleep, the purge;
- runs.py: a job's run (claim, lock, done, failure, release);
- channels.py: pauses, capacities, rate limits and running counts;
- lock_keys.py: one job at a time per lock_key;
- workers.py: worker rows and the jobs of dead workers (the reaper);
- batches.py: split, finish, cancel and requeue batches;
- dependencies.py: edges between jobs and what follows a job's end;
- admin.py: the backend's changes and locks;
- overview.py: open jobs per channel, jobs finished per minute (overview, metrics);
- stops.py: stop requests for running jobs;
- supersede.py: the rule of every statement that sets jobs back to pending;
- progress.py: running jobs' progress, and batches' share of it;
- changes.py: the change markers of the live backend.

The job row (its columns, ClaimedJob) is engine/job_row.py. Functions take
a DB-API cursor and never commit: the caller owns the transaction (the
worker loop, or the Odoo request that calls delay()); claim() and
finish_run() say where they differ. Callers use ``store.<function>``.
"""
from ..job_row import ClaimedJob
from .admin import admin_cancel, admin_requeue, admin_set_done, lock_nowait
from .batches import (
    batch_of_job, batch_progress, batches_of_jobs, cancel_batches, enqueue_batch,
    finish_batches, lock_batch_for_done, mark_batch_done, requeue_batches,
)
from .changes import change_markers
from .progress import progress_of_jobs, running_children_progress, write_progress
from .channels import ancestors as channel_ancestors
from .channels import channel_load, check_name, ensure_channels, special_channels_exist
from .dependencies import (
    add_dependencies, mark_worker_session, promote_dependents, recheck_dependents,
)
from .jobs import (
    CHANNELS_CHANGED, NOTIFY_CHANNEL, enqueue, next_eta, purge_finished, stored_timeouts,
)
from .overview import EVERY_JOB, Scope, finished_by_minute, open_job_counts
from .runs import (
    ChannelFull, ClaimRefused, KeyHeld, NotRecorded, claim, claim_unlimited, finish_now,
    finish_run, lock_for_run, mark_done, mark_failed, prepare_claim, prepare_run, release,
    start_now, terminate_backend,
)
from .stops import STOP_CHANNEL, purge_stop_requests, request_stop, take_stop_requests
from .supersede import REQUEUE_ATTEMPTS
from .workers import (
    heartbeat, local_workers, mark_process_dead, purge_workers, register_worker,
    requeue_orphans, unregister_worker,
)

__all__ = [
    'ClaimedJob', 'ChannelFull', 'ClaimRefused', 'KeyHeld', 'NotRecorded',
    'CHANNELS_CHANGED', 'NOTIFY_CHANNEL', 'REQUEUE_ATTEMPTS',
    'admin_cancel', 'admin_requeue', 'admin_set_done', 'lock_nowait',
    'batch_of_job', 'batch_progress', 'batches_of_jobs', 'cancel_batches', 'enqueue_batch',
    'finish_batches', 'lock_batch_for_done', 'mark_batch_done', 'requeue_batches',
    'add_dependencies', 'mark_worker_session', 'promote_dependents', 'recheck_dependents',
    'channel_ancestors', 'channel_load', 'check_name', 'ensure_channels', 'special_channels_exist',
    'CHANNELS_CHANGED', 'enqueue', 'next_eta', 'purge_finished', 'stored_timeouts',
    'EVERY_JOB', 'Scope', 'finished_by_minute', 'open_job_counts',
    'claim', 'claim_unlimited', 'finish_run', 'lock_for_run', 'mark_done', 'mark_failed',
    'prepare_claim', 'prepare_run', 'release', 'start_now', 'finish_now', 'terminate_backend',
    'STOP_CHANNEL', 'purge_stop_requests', 'request_stop', 'take_stop_requests',
    'heartbeat', 'local_workers', 'mark_process_dead', 'purge_workers', 'register_worker',
    'requeue_orphans', 'unregister_worker',
    'change_markers', 'progress_of_jobs', 'running_children_progress', 'write_progress',
]
