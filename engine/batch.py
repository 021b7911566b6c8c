"""Batches in the engine: naming the done method, chunking rules, progress
(pure), and ending batches in the caller's transaction (through store).

A batch is a parent job in state ``waiting`` (never claimed: the claim only
takes ``pending`` jobs) with one child job per ``job_size`` record ids. Once
every child has finished, the parent gets one more job that runs its done
method (``store.finish_batches``); when that job completes, the
parent is done, and when it ends otherwise, the parent ends with it (failed
for good: failed; cancelled: cancelled; set done by hand: done).

>>> split_done_method('invoice.match.report.finish')
('invoice.match.report', 'finish')
>>> progress = Progress.from_counts({'done': 7, 'failed': 1, 'started': 2})
>>> (progress.total, progress.finished, progress.percent)
(10, 8, 80.0)
>>> Progress.from_counts({'done': 7, 'failed': 1, 'started': 2}, partial=0.75).percent
87.5
>>> batch_state('waiting', None, progress), batch_state('done', 9, progress)
('running', 'done_with_failures')
>>> batch_state('failed', 9, Progress.from_counts({'done': 3}))  # its done method failed
'done_with_failures'
>>> from types import SimpleNamespace as Job
>>> batches_ended_by(Job(model_name='queue.job', method_name='_run_batch_done_method',
...                      record_ids='[12]', parent_id=3))
[3, 12]
"""
from __future__ import annotations

import dataclasses
import json
from typing import Iterable, Mapping, Optional, Tuple

from . import states, store
from .store.batches import DONE_JOB_METHOD, DONE_JOB_MODEL

RUNNING = 'running'
FINISHING = 'finishing'
DONE = 'done'
DONE_WITH_FAILURES = 'done_with_failures'
CANCELLED = 'cancelled'

# A batch's states and their labels (batch_state's selection), in order.
STATE_SELECTION = list({
    RUNNING: 'Running', FINISHING: 'Running the done method', DONE: 'Done',
    DONE_WITH_FAILURES: 'Done with failures', CANCELLED: 'Cancelled',
}.items())


def split_done_method(done_method: str) -> Tuple[str, str]:
    """``'<model name>.<method>'`` -> (model name, method), split at the last
    dot (model names have dots, methods do not). ValueError when malformed."""
    if not isinstance(done_method, str):
        raise ValueError("done_method must be a string '<model>.<method>', not %r"
                         % (done_method,))
    model_name, _, method_name = done_method.rpartition('.')
    if not model_name or not method_name.isidentifier():
        raise ValueError("done_method %r is not '<model name>.<method>' "
                         "(e.g. 'invoice.match.report.finish')" % done_method)
    return model_name, method_name


def check_job_size(job_size) -> int:
    if isinstance(job_size, bool) or not isinstance(job_size, int) or job_size < 1:
        raise ValueError('job_size must be a whole number of records per job, '
                         'at least 1, not %r' % (job_size,))
    return job_size


@dataclasses.dataclass(frozen=True)
class Progress:
    """How far the children of one batch are."""
    total: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    running: int = 0
    pending: int = 0  # pending, or waiting (a nested batch not finished)
    # the running children's reported shares (0 to 1 each), summed
    partial: float = 0.0

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], partial: float = 0.0) -> 'Progress':
        """From ``{child state: count}`` (``store.batch_progress``) and the
        running children's progress (``store.running_children_progress``)."""
        return cls(partial=partial, total=sum(counts.values()),
                   done=counts.get(states.DONE, 0),
                   failed=counts.get(states.FAILED, 0),
                   cancelled=counts.get(states.CANCELLED, 0),
                   running=counts.get(states.STARTED, 0),
                   pending=counts.get(states.PENDING, 0) + counts.get(states.WAITING, 0))

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.cancelled

    @property
    def percent(self) -> float:
        """Share of children finished, running ones counted by their own
        progress; 100 for a batch without children."""
        share = (self.finished + min(self.partial, self.running)) / self.total if self.total else 1
        return round(100.0 * share, 1)


def batch_state(parent_state: str, done_job_id: Optional[int], progress: Progress) -> str:
    """What the backend says about a batch, from its parent's state (failed:
    its done method failed for good)."""
    if parent_state == states.CANCELLED:
        return CANCELLED
    if parent_state == states.FAILED:
        return DONE_WITH_FAILURES
    if parent_state == states.DONE:
        return DONE_WITH_FAILURES if progress.failed else DONE
    return FINISHING if done_job_id else RUNNING


def batches_ended_by(job) -> list:
    """The batches a job that just ended may have ended (no query: the
    worker calls it after every job): the batch it belongs to, and, for a
    done job, the batch whose done method it ran (a done job failed for
    good ends that batch failed)."""
    return ([job.parent_id] if job.parent_id else []) + done_method_batches(job)


def done_method_batches(job) -> list:
    """The batches whose done method this job runs (none for other jobs)."""
    if (job.model_name, job.method_name) == (DONE_JOB_MODEL, DONE_JOB_METHOD):
        return json.loads(job.record_ids)
    return []



def finish_batches(cr, batch_ids: Iterable[int]) -> None:
    """End the complete batches among ``batch_ids``, then the batches around
    them that this completed, all in the caller's transaction. It misses a
    batch that another transaction completes meanwhile (it never enqueues a
    done method twice); the cron catches those (see store.finish_batches)."""
    batch_ids = list(batch_ids)
    while batch_ids:
        batch_ids = store.finish_batches(cr, batch_ids)


def finish_batches_of_jobs(cr, job_ids: Iterable[int]) -> None:
    """End the batches that these jobs, ended in the caller's transaction,
    may have completed: theirs, and those whose done job they are."""
    job_ids = list(job_ids)
    if job_ids:
        finish_batches(cr, store.batches_of_jobs(cr, job_ids))
