"""When a failed job runs again, and whether it runs again at all.

Counting convention, used by every method: ``retry_count`` is how many times
the job has already been retried, i.e. 0 when it fails for the first time.
The failure being handled is therefore failure number ``retry_count + 1``,
which is what the keys of a retry *pattern* refer to (OCA queue_job
semantics: ``{1: 10, 5: 60}`` waits 10 s after the 1st..4th failure and 60 s
from the 5th failure on).

Unlike OCA queue_job, ``max_retries`` counts retries, not attempts, and 0
means "never retry" rather than "retry forever": a job with
``max_retries=5`` runs at most 6 times.

:meth:`RetryPolicy.decide` turns a failed attempt into a
:class:`RetryDecision`, which every path that runs jobs records the same way
(engine/attempt.py).

Pure Python (no Odoo import) so the schedule is unit-tested without a
database.
"""
from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from psycopg2.extensions import TransactionRollbackError

from . import defaults
from .defaults import CONFLICT_RETRY_DELAY
from .exceptions import FailedJobError, JobStoppedError, RetryableJobError
from .outage import connection_lost

__all__ = [
    'RetryPolicy', 'RetryDecision', 'DEFAULT_MAX_RETRIES', 'BASE_DELAY_SECONDS',
    'MAX_DELAY_SECONDS',
]

DEFAULT_MAX_RETRIES = defaults.MAX_RETRIES

# The first retry comes soon because most failures are transient; each later
# one waits twice as long so a struggling dependency gets room to recover.
BASE_DELAY_SECONDS = 10

# Doubling unbounded would push retries days away; an hour keeps a job that
# is allowed many retries still moving and visible to its owner.
MAX_DELAY_SECONDS = 3600

# Bounds the shift in the exponential formula so huge retry counts do not
# build huge ints; 2**32 * BASE is far beyond MAX_DELAY_SECONDS anyway.
_MAX_DOUBLINGS = 32


@dataclass(frozen=True)
class RetryDecision:
    """What a failed attempt leads to: run again after ``delay`` seconds
    (``retry``: the attempt counts as one retry), or fail for good
    (``cancel``: end cancelled instead, a stopped job)."""

    retry: bool
    delay: float = 0
    cancel: bool = False


FAIL = RetryDecision(retry=False)
CANCEL = RetryDecision(retry=False, cancel=True)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times a failed job is retried, and how long it waits first.

    ``pattern`` maps a failure number to the delay in seconds that applies
    from that failure on (the largest key <= the failure number wins).
    Failures before the smallest key, and every failure when there is no
    pattern, use exponential backoff: 10 s, 20 s, 40 s ... capped at 1 h.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    # Excluded from the hash because a mapping is unhashable; equal policies
    # still hash equally since they share max_retries.
    pattern: Mapping[int, int] | None = field(default=None, hash=False)
    # Sorted pattern keys and their delays, for a bisect lookup.
    _thresholds: tuple[int, ...] = field(init=False, repr=False, compare=False, hash=False)
    _delays: tuple[int, ...] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        _check_max_retries(self.max_retries)
        steps = _checked_pattern_steps(self.pattern)
        # A read-only sorted copy: mutating the caller's dict afterwards must
        # not change a policy that is shared between jobs.
        frozen_pattern = MappingProxyType(dict(steps)) if steps else None
        object.__setattr__(self, 'pattern', frozen_pattern)
        object.__setattr__(self, '_thresholds', tuple(key for key, _delay in steps))
        object.__setattr__(self, '_delays', tuple(delay for _key, delay in steps))

    @classmethod
    def from_config(
        cls,
        max_retries: int | str | None = None,
        pattern: Mapping[Any, Any] | None = None,
    ) -> RetryPolicy:
        """Build a policy from JSON or a config file, where numbers may be
        strings (JSON object keys always are): ``{'1': 10, '5': '60'}``.
        ``None`` means the default."""
        retries = DEFAULT_MAX_RETRIES if max_retries is None else _to_int(max_retries, 'max_retries')
        if pattern is None:
            return cls(retries)
        if not isinstance(pattern, Mapping):
            raise ValueError(f'retry pattern must be a mapping, got {type(pattern).__name__}')
        converted: dict[int, int] = {}
        for raw_key, raw_delay in pattern.items():
            key = _to_int(raw_key, f'retry pattern key {raw_key!r}')
            if key in converted:
                raise ValueError(f'retry pattern gives key {key} more than once (e.g. as {key} and {str(key)!r})')
            converted[key] = _to_int(raw_delay, f'retry pattern delay for key {raw_key!r}')
        return cls(retries, converted)

    def can_retry(self, retry_count: int) -> bool:
        """Whether a job that failed after ``retry_count`` retries runs again."""
        return _checked_count(retry_count) < self.max_retries

    def delay_for(self, retry_count: int) -> int:
        """Seconds to wait before retrying a job that failed after
        ``retry_count`` retries."""
        failure_number = _checked_count(retry_count) + 1
        position = bisect_right(self._thresholds, failure_number) - 1
        if position >= 0:
            return self._delays[position]
        return _exponential_delay(retry_count)

    def next_delay(self, retry_count: int, requested: float | None = None) -> int:
        """Like :meth:`delay_for`, but a delay the job asked for (e.g.
        ``RetryableJobError(seconds=30)``) wins: the job knows best when the
        thing it waits for will be ready."""
        if requested is None:
            return self.delay_for(retry_count)
        _checked_count(retry_count)  # same contract whichever branch runs
        return _checked_requested_delay(requested)

    def decide(self, retry_count: int, error: BaseException) -> RetryDecision:
        """What follows an attempt that failed with ``error`` after
        ``retry_count`` retries. ``FailedJobError`` fails at once;
        ``RetryableJobError`` retries after the delay it asks for (even out
        of retries with ``ignore_retry``); a serialization failure or
        deadlock (another transaction won, the job itself is fine) or a
        lost database connection (a restart, a failover) retries after about
        a second; a stopped job (JobStoppedError) is cancelled; anything
        else follows the schedule."""
        if isinstance(error, JobStoppedError):
            return CANCEL
        if isinstance(error, FailedJobError):
            return FAIL
        if isinstance(error, RetryableJobError) and error.ignore_retry:
            return RetryDecision(True, self.next_delay(retry_count, error.seconds))
        if not self.can_retry(retry_count):
            return FAIL
        if isinstance(error, RetryableJobError):
            return RetryDecision(True, self.next_delay(retry_count, error.seconds))
        if isinstance(error, TransactionRollbackError) or connection_lost(error):
            return RetryDecision(True, CONFLICT_RETRY_DELAY + random.random())
        return RetryDecision(True, self.delay_for(retry_count))


def _exponential_delay(retry_count: int) -> int:
    return min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS << min(retry_count, _MAX_DOUBLINGS))


def _is_int(value: Any) -> bool:
    # bool is an int subclass, but True retries is surely a mistake.
    return isinstance(value, int) and not isinstance(value, bool)


def _check_max_retries(max_retries: Any) -> None:
    if not _is_int(max_retries):
        raise ValueError(f'max_retries must be an int, got {max_retries!r}')
    if max_retries < 0:
        raise ValueError(f'max_retries must be 0 (never retry) or more, got {max_retries}')


def _checked_pattern_steps(pattern: Any) -> list[tuple[int, int]]:
    if pattern is None:
        return []
    if not isinstance(pattern, Mapping):
        raise ValueError(f'retry pattern must be a mapping, got {type(pattern).__name__}')
    for key, delay in pattern.items():
        if not _is_int(key) or key < 1:
            hint = '; use RetryPolicy.from_config() for keys read from JSON' if isinstance(key, str) else ''
            raise ValueError(
                f'retry pattern keys must be failure numbers (ints >= 1), got {key!r}{hint}')
        if not _is_int(delay) or delay < 0:
            raise ValueError(
                f'retry pattern delay for key {key} must be a number of seconds '
                f'(int >= 0), got {delay!r}')
    return sorted(pattern.items())


def _checked_count(retry_count: Any) -> int:
    if not _is_int(retry_count) or retry_count < 0:
        raise ValueError(f'retry_count must be an int >= 0, got {retry_count!r}')
    return retry_count


def _checked_requested_delay(requested: Any) -> int:
    valid = (
        isinstance(requested, (int, float)) and not isinstance(requested, bool)
        and math.isfinite(requested) and requested >= 0
    )
    if not valid:
        raise ValueError(f'requested retry delay must be seconds >= 0, got {requested!r}')
    # Rounded up: retrying before the requested time would defeat its purpose.
    return math.ceil(requested)


def _to_int(value: Any, what: str) -> int:
    if _is_int(value):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ValueError(f'{what} must be an integer, got {value!r}')
