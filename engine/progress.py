"""Progress of a running job: what set_progress() accepts, and the
throttled reporter of the attempt that runs on the calling thread.

A job may report progress 100,000 times in a loop: a report only keeps the
latest value in memory; the attempt's reporter writes it (``write``: the
store's upsert on a connection that is not the job's own, see
engine/attempt.py) at most every ``interval`` seconds, and once more when the
attempt ends. The first write comes ``interval`` seconds after the attempt
began: a short job writes its progress once, at its end.

>>> checked(3, 10, 'invoices').percent
30.0
>>> checked(5).percent is None, checked(0, 0).percent
(True, 100.0)
>>> checked(11, 10)
Traceback (most recent call last):
...
ValueError: set_progress(): done (11) is more than total (10)
>>> clock, writes = [0.0], []
>>> reporter = Reporter(7, lambda job_id, value: writes.append(value.done), 0.5,
...                     clock=lambda: clock[0])
>>> for step in range(100):
...     clock[0] = step * 0.01
...     reporter.report(step, 100)
>>> reporter.flush(); writes
[50, 99]
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import numbers
import threading
import time
from typing import Callable, Optional

from . import defaults, serialization, store

_logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Reported:
    """One set_progress() call, checked."""
    done: float
    total: Optional[float] = None
    message: Optional[str] = None

    @property
    def percent(self) -> Optional[float]:
        """done / total in percent (100 for 0 of 0); None without a total."""
        if self.total is None:
            return None
        return round(100.0 * self.done / self.total, 1) if self.total else 100.0


def checked(done, total=None, message=None) -> Reported:
    """The values of set_progress(done, total, message); ValueError when a
    number is not a finite number >= 0 or done is more than total."""
    _check(done, total)
    return Reported(done, total, _message(message))


def _check(done, total) -> None:
    # On every set_progress(), so plain ints and floats >= 0 are checked
    # inline (NaN fails both comparisons, inf the second); the rest by _number.
    kind = type(done)
    if not ((kind is int and done >= 0) or (kind is float and 0 <= done < math.inf)):
        _number('done', done)
    if total is not None:
        kind = type(total)
        if not ((kind is int and total >= 0) or (kind is float and 0 <= total < math.inf)):
            _number('total', total)
        if done > total:
            raise ValueError('set_progress(): done (%s) is more than total (%s)' % (done, total))


def _number(name, value) -> None:
    """Any other number (Decimal, numpy): ValueError unless finite and >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError('set_progress(): %s must be a number, not %r' % (name, value))
    if not math.isfinite(value) or value < 0:
        raise ValueError('set_progress(): %s must be a finite number >= 0, not %r'
                         % (name, value))


def _message(message) -> Optional[str]:
    if message is None:
        return None
    message = serialization.storable_text(str(message))
    limit = defaults.PROGRESS_MESSAGE_MAX_CHARS
    return message if len(message) <= limit else message[:limit - 3] + '...'


Write = Callable[[int, Reported], None]


class Reporter:
    """Keeps a job's latest progress, writes it at most every ``interval``
    seconds (None: only at flush()). A write that fails is logged once and
    no more are tried in this attempt: progress never fails a job."""

    def __init__(self, job_id: int, write: Write, interval: Optional[float],
                 clock: Callable[[], float] = time.monotonic):
        self.job_id = job_id
        self.writes = 0
        self._write = write
        self._interval = interval
        self._clock = clock
        self._latest: Optional[tuple] = None  # (done, total, message), checked
        self._next_write = math.inf if interval is None else clock() + interval

    def report(self, done, total=None, message=None) -> None:
        """Keep checked values (see checked()); write them if it is time."""
        self._latest = (done, total, message)
        if self._clock() >= self._next_write:
            self.flush()

    def flush(self) -> None:
        """Write the latest value if it was not written yet."""
        latest, self._latest = self._latest, None
        if latest is None or self._write is None:
            return
        done, total, message = latest
        try:
            self._write(self.job_id, Reported(done, total, _message(message)))
            self.writes += 1
        except Exception:  # the job goes on; its progress stays as last written
            _logger.warning('could not write the progress of job %s; it is not written '
                            'again in this attempt', self.job_id, exc_info=True)
            self._write = None
        if self._interval is not None:
            self._next_write = self._clock() + self._interval


class _Current(threading.local):
    reporter: Optional[Reporter] = None  # of the attempt running on this thread


_current = _Current()


@contextlib.contextmanager
def reporting(job_id: int, write: Write,
              interval: Optional[float] = defaults.PROGRESS_WRITE_INTERVAL):
    """The reporter of the attempt of ``job_id`` that runs in this block on
    this thread (a job run now inside another job has its own, then the
    outer one's is back); its latest value is written when the block ends."""
    reporter = Reporter(job_id, write, interval)
    outer = _current.reporter
    _current.reporter = reporter
    try:
        yield reporter
    finally:
        _current.reporter = outer
        reporter.flush()


def report(job_id: Optional[int], done, total=None, message=None) -> bool:
    """set_progress() of the job ``job_id`` (from the job's context): checked
    always; kept if that job's attempt runs on this thread (False: not in a
    job, nothing kept)."""
    _check(done, total)  # the message is made storable when written
    reporter = _current.reporter
    if reporter is None or job_id is None or reporter.job_id != job_id:
        return False
    reporter.report(done, total, message)
    return True


def on_connection(connection) -> Write:
    """Writes on ``connection`` (autocommit: each write commits at once),
    never the job's own: a worker's attempt (engine/attempt.py perform)."""
    def write(job_id, value):
        with connection.cursor() as cr:
            store.write_progress(cr, job_id, value)
    return write


def in_transaction(cr) -> Write:
    """Writes in ``cr``'s transaction: a job run in the caller's transaction,
    whose progress nobody else sees before it commits anyway."""
    return lambda job_id, value: store.write_progress(cr, job_id, value)
