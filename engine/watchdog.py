"""Running attempts under control: time limits, Stop and shutdown.

Each DatabaseRunner has one :class:`Watchdog` that knows the attempts its
job threads run (:class:`RunningAttempt`: the job, its thread, its deadline,
the backend pid of the job's connection, a requested stop). The job thread
registers its attempt (``Watchdog.begin``) and marks the job's own code
(``RunningAttempt.job_code``); the control thread asks what is due
(``Watchdog.due``) and takes those attempts over (``take_over``). From then
on the job thread records nothing of that attempt: the control thread ends
the job's transaction (store.terminate_backend), interrupts the thread if it
runs the job's code, and records the outcome (engine/attempt.py
``end_taken_over``). Taking over and the thread leaving the job's code are
settled under one lock: exactly one of them records the outcome.

A taken-over thread that has not come back ``ABANDON_AFTER`` seconds later
(blocked in C code: a sleep, a socket read) is abandoned: it never writes
again (it finds its attempt taken over), and a new job thread replaces it.

Pure Python: no SQL, no ORM (the worker runs the statements).
"""
from __future__ import annotations

import contextlib
import ctypes
import logging
import sys
import threading
import time
import traceback
from typing import Dict, List, Optional, Set, Tuple

from .exceptions import JobInterrupted, JobStoppedError, JobTimeoutError

# Why an attempt was taken over.
TIMEOUT = 'timeout'    # ran past its time limit: failed, retried per its policy
STOP = 'stop'          # a user stopped it: cancelled, never retried
SHUTDOWN = 'shutdown'  # the worker stops: requeued at once, no retry counted

# Seconds a stopped job has to return on its own (it may ask
# stop_requested()) before it is ended as a time limit ends a job.
STOP_GRACE = 0.5
# Seconds a taken-over thread has to come back before it is abandoned and
# replaced (a thread in Python code comes back within milliseconds).
ABANDON_AFTER = 2.0
# Seconds a shutdown waits for the threads of the jobs it ended to come back
# (a thread in Python code comes back at once; one blocked in C code is left).
SHUTDOWN_COME_BACK = 0.5
# Seconds a taken-over thread waits for its connection to be terminated
# before it closes it (see RunningAttempt.terminated).
TERMINATE_WAIT = 5.0

_current = threading.local()
_logger = logging.getLogger(__name__)


def check_timeout(value, what='timeout'):
    """A job's time limit as given to @job or with_delay(): None (not
    given), or whole seconds >= 0 (0: no limit); ValueError otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError('%s must be whole seconds >= 0 (0: no limit), not %r' % (what, value))
    return value


def effective_timeout(job_timeout: Optional[int], method_timeout: Optional[int],
                      default: int) -> int:
    """The limit a job runs under: the job's own (with_delay(timeout=),
    stored with it), else its method's (@job(timeout=)), else the server's
    ([background_job] timeout). 0: no limit.

    >>> effective_timeout(None, None, 3600), effective_timeout(None, 5, 3600)
    (3600, 5)
    >>> effective_timeout(0, 5, 3600), effective_timeout(2, 5, 3600)
    (0, 2)
    """
    for value in (job_timeout, method_timeout):
        if value is not None:
            return value
    return default


def current_attempt() -> Optional['RunningAttempt']:
    """The attempt the calling thread runs, or None (outside jobs)."""
    return getattr(_current, 'attempt', None)


def stop_requested() -> bool:
    """Whether someone asked to stop the job the calling thread runs."""
    attempt = current_attempt()
    return attempt is not None and attempt.stop_by is not None


def raise_in_thread(ident: int, exception) -> None:
    """Make ``exception`` (a class) raise in thread ``ident`` when it next
    runs Python code; None clears one still pending."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(exception) if exception else None)


def stack_of(thread: threading.Thread) -> str:
    """The traceback text of where ``thread`` is now ('' if it is gone)."""
    frame = sys._current_frames().get(thread.ident)
    if frame is None:
        return ''
    return 'Traceback (most recent call last):\n' + ''.join(traceback.format_stack(frame))


class RunningAttempt:
    """One attempt a job thread runs, as the watchdog sees it."""

    def __init__(self, job, timeout: int, policy, started: float, thread: threading.Thread):
        self.job = job
        self.timeout = timeout
        self.policy = policy
        self.started = started  # time.monotonic()
        self.deadline = started + timeout if timeout else None
        self.thread = thread
        self.backend_pid: Optional[int] = None  # of the job's connection, once it has one
        self.stop_by: Optional[str] = None
        self.stop_deadline: Optional[float] = None
        self.ended: Optional[str] = None  # TIMEOUT, STOP or SHUTDOWN once taken over
        self.error: Optional[BaseException] = None  # what the watchdog records
        self.taken_over_at: Optional[float] = None
        self.abandoned = False
        self._lock = threading.Lock()
        self._in_job_code = False
        self._outcome_owned = False  # the job thread records the outcome itself
        self._thread_done = False
        self._terminated = threading.Event()

    # -- the job thread's side ---------------------------------------------
    @contextlib.contextmanager
    def job_code(self):
        """Around the job's own code, the only place it is interrupted. On
        the way out: JobInterrupted if the attempt was taken over meanwhile
        (whatever the job did), JobStoppedError if a stop was requested,
        else the job thread records the outcome."""
        with self._lock:
            self._in_job_code = True
        try:
            yield
        finally:
            self._leave_job_code()

    def _leave_job_code(self) -> None:
        with self._lock:
            self._in_job_code = False
            raise_in_thread(self.thread.ident, None)  # never inside the engine's code
            if self.ended is None:
                self._outcome_owned = True
                if self.stop_by is not None:
                    raise JobStoppedError(self.stop_by)
                return
        # Taken over: close nothing before the watchdog has ended the job's
        # connection (its backend pid must not be reused meanwhile).
        self._terminated.wait(TERMINATE_WAIT)
        raise JobInterrupted()

    def own_outcome(self) -> bool:
        """Before the thread records an outcome outside the job's code
        (its lock failed, say): True if it may, False if taken over."""
        with self._lock:
            if self.ended is None:
                self._outcome_owned = True
                return True
        self._terminated.wait(TERMINATE_WAIT)  # see _leave_job_code
        return False

    def finish(self) -> bool:
        """The job thread is done with the attempt: True if it was abandoned
        meanwhile (the thread must stop working)."""
        with self._lock:
            self._thread_done = True
            return self.abandoned

    # -- the watchdog's side ----------------------------------------------
    def due(self, now: float) -> Optional[str]:
        """Why the attempt must be taken over now, or None."""
        if self.ended is not None or self._outcome_owned:
            return None
        if self.stop_deadline is not None and now >= self.stop_deadline:
            return STOP
        if self.deadline is not None and now >= self.deadline:
            return TIMEOUT
        return None

    def request_stop(self, by: str, now: float, grace: float = STOP_GRACE) -> None:
        if self.stop_by is None:
            self.stop_by = by
            self.stop_deadline = now + grace

    def take_over(self, reason: str) -> bool:
        """End the attempt from outside: True if it was still running (its
        error is built now, with the stack of where the job is), False if the
        job thread owns its outcome already."""
        with self._lock:
            if self._outcome_owned or self.ended is not None:
                return False
            stack = stack_of(self.thread)
            self.error = (JobStoppedError(self.stop_by, stack) if reason == STOP
                          else JobTimeoutError(self.timeout, stack))
            self.ended = reason
            self.taken_over_at = time.monotonic()
            return True

    def terminated(self) -> None:
        """The job's connection was ended: interrupt the job's code if the
        thread runs it, and let the thread close its connection."""
        with self._lock:
            if self._in_job_code and not self._thread_done:
                raise_in_thread(self.thread.ident, JobInterrupted)
        self._terminated.set()

    def abandon_if_stuck(self, now: float, after: float = ABANDON_AFTER) -> bool:
        """True (once) when the thread has not come back ``after`` seconds
        after the take-over: it is abandoned."""
        with self._lock:
            if (self.ended is None or self._thread_done or self.abandoned
                    or now - self.taken_over_at < after):
                return False
            self.abandoned = True
            return True

    def next_check(self) -> Optional[float]:
        """When the watchdog must look at this attempt next."""
        if self.ended is not None:
            return None if self.abandoned else self.taken_over_at + ABANDON_AFTER
        times = [t for t in (self.deadline, self.stop_deadline) if t is not None]
        return min(times) if times else None


class Watchdog:
    """The running attempts of one DatabaseRunner."""

    def __init__(self):
        self._lock = threading.Lock()
        # not by job id: an ended attempt's thread may still be out while a
        # later attempt of the same job runs
        self._attempts: Set[RunningAttempt] = set()
        self.abandoned_threads: List[threading.Thread] = []

    def begin(self, job, timeout: int, policy, started: float) -> RunningAttempt:
        """The calling job thread starts an attempt of ``job``."""
        attempt = RunningAttempt(job, timeout, policy, started, threading.current_thread())
        with self._lock:
            self._attempts.add(attempt)
        _current.attempt = attempt
        return attempt

    def end(self, attempt: RunningAttempt) -> bool:
        """The calling job thread is done with ``attempt``; True if it was
        abandoned meanwhile (the thread must stop)."""
        _current.attempt = None
        abandoned = attempt.finish()
        with self._lock:
            self._attempts.discard(attempt)
        return abandoned

    def is_abandoned(self, thread: threading.Thread) -> bool:
        return thread in self.abandoned_threads

    def running(self) -> Dict[int, RunningAttempt]:
        """{job id: attempt} of the attempts not taken over."""
        with self._lock:
            return {attempt.job.id: attempt for attempt in self._attempts
                    if attempt.ended is None}

    def due(self, now: float) -> List[Tuple[RunningAttempt, str]]:
        """The attempts to take over now, with why."""
        with self._lock:
            attempts = list(self._attempts)
        return [(attempt, reason) for attempt in attempts
                for reason in [attempt.due(now)] if reason]

    def stuck(self, now: float) -> List[RunningAttempt]:
        """Taken-over attempts whose thread is abandoned now (each once)."""
        with self._lock:
            attempts = list(self._attempts)
        stuck = [attempt for attempt in attempts if attempt.abandon_if_stuck(now)]
        with self._lock:
            for attempt in stuck:
                self.abandoned_threads.append(attempt.thread)
                self._attempts.discard(attempt)
        return stuck

    def next_check(self) -> Optional[float]:
        """The earliest time (monotonic) something may be due."""
        with self._lock:
            times = [t for t in (a.next_check() for a in self._attempts) if t is not None]
        return min(times) if times else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._attempts)


def log_too_many_abandoned(dbname: str, dog: Watchdog) -> None:
    """What the threaded server does when its threads pile up (its process
    also serves HTTP: it keeps serving)."""
    _logger.error('%d job threads serving %s are stuck in jobs that were ended and will '
                  'never come back; they were replaced, but each holds its memory and a '
                  'connection: restart this server', len(dog.abandoned_threads), dbname)
