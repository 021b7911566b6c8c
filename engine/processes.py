"""Job processes: a supervisor keeps N of them running.

With ``processes = N`` (N >= 1) the jobs of a server run in N processes of
their own, each with ``threads`` job threads: N GILs, so CPU-bound jobs use
N cores, and a job that crashes its interpreter or blows the memory limit
takes down only its own process. The supervisor is a process without
threads (it forks; a fork of a threaded process may inherit a lock some
other thread held): the ``odoo queue-worker`` process itself, or one that
the threaded or prefork server forks before it starts any thread.

The supervisor (:class:`ProcessPool`):

- forks the job processes (``spawn``) and restarts one that ends, at once,
  or after 0.5, 1, 2 ... 30 s when it keeps dying within a few seconds of
  its start;
- samples each one's resident memory every CHECK_INTERVAL seconds and
  kills (SIGKILL) one over ``memory_hard`` bytes: a sampling process is not
  held up by a job that allocates inside one C call holding the GIL;
- tells ``mark_dead(pid, reason)`` why a job process died (killed for
  memory, a signal such as SIGSEGV, an exit status), before the pid is
  reaped: until then the pid still exists, so no reaper requeues its jobs
  with a vaguer reason. The jobs are then requeued as a retry by the
  reaper of the next job process (engine/store/workers.py).

The soft limit is the job process's own business (service/job_processes.py):
over ``limit_memory_soft``, it stops claiming, lets its running jobs end
and exits; the supervisor starts another.

Nothing here knows Odoo; the Odoo side is service/job_processes.py.
"""
from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional

_logger = logging.getLogger(__name__)

PAGE_SIZE = os.sysconf('SC_PAGE_SIZE')
MB = 1024 * 1024
# A job process that lived less than this before it ended counts as dying
# at start: its restart waits RESTART_BACKOFF_FIRST, doubled each time up
# to RESTART_BACKOFF_MAX.
QUICK_DEATH = 10.0
RESTART_BACKOFF_FIRST = 0.5
RESTART_BACKOFF_MAX = 30.0
# Seconds between the supervisor's rounds (exits, memory, restarts).
CHECK_INTERVAL = 0.1
# After SIGTERM and the job processes' shutdown_timeout, seconds more before
# the supervisor kills those still alive.
STOP_MARGIN = 5.0


def resident_bytes(pid: int) -> Optional[int]:
    """The resident memory of a process (its RSS) in bytes; None once the
    process is gone. Read from /proc (Linux): no dependency, no privilege."""
    try:
        with open('/proc/%d/statm' % pid, 'rb') as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return None


def exit_reason(status: int, memory_killed: Optional[str] = None) -> Optional[str]:
    """Why a job process ended, for the exception message of the jobs it
    was running (``status`` as os.waitpid gives it); None for a clean
    exit (status 0: its jobs were requeued by the process itself)."""
    if memory_killed:
        return memory_killed
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = 'signal %d' % number
        verb = 'was killed by' if number in (signal.SIGKILL, signal.SIGTERM) else 'died of'
        return 'its job process %s signal %d (%s)' % (verb, number, name)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    if code == 0:
        return None
    return 'its job process exited with status %d' % code


def memory_hard_reason(rss: int, limit: int) -> str:
    return ('its job process exceeded limit_memory_hard (%d MB > %d MB) and was killed'
            % (rss // MB, limit // MB))


@dataclass
class JobProcess:
    pid: int
    slot: int
    started: float
    # set when the supervisor killed it for memory: the reason its jobs get
    memory_killed: Optional[str] = None


@dataclass
class Slot:
    """One of the N places of a job process: when its next may start."""
    restart_at: float = 0.0
    quick_deaths: int = 0


@dataclass
class ProcessPool:
    """Keeps ``size`` job processes running (see the module docstring).

    ``spawn(slot)`` forks a job process and returns its pid (the child
    never returns from it); ``mark_dead(pid, reason)`` records why one died
    (reason None: it exited cleanly). ``memory_hard``: bytes, 0 for none.
    """
    size: int
    spawn: Callable[[int], int]
    mark_dead: Callable[[int, Optional[str]], None]
    memory_hard: int = 0
    clock: Callable[[], float] = time.monotonic
    children: Dict[int, JobProcess] = field(default_factory=dict)
    slots: Dict[int, Slot] = field(default_factory=dict)
    stopping: bool = False

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError('a pool of job processes needs at least one (got %r)' % self.size)
        self.slots = {slot: Slot() for slot in range(self.size)}

    # -- one round of the supervisor ------------------------------------------
    def round(self) -> None:
        """Reap the job processes that ended, kill those over the memory
        limit, start the missing ones that are due."""
        self.reap()
        self.check_memory()
        if not self.stopping:
            self.start_missing()

    def start_missing(self) -> None:
        now = self.clock()
        busy = {child.slot for child in self.children.values()}
        for number, slot in self.slots.items():
            if number not in busy and now >= slot.restart_at:
                pid = self.spawn(number)
                self.children[pid] = JobProcess(pid, number, now)
                _logger.info('job process %d started (%d of %d)', pid, number + 1, self.size)

    def check_memory(self) -> None:
        if not self.memory_hard:
            return
        for child in list(self.children.values()):
            rss = resident_bytes(child.pid)
            if rss is not None and rss > self.memory_hard and not child.memory_killed:
                child.memory_killed = memory_hard_reason(rss, self.memory_hard)
                _logger.error('job process %d: %s (its running jobs count a retry)',
                              child.pid, child.memory_killed)
                _kill(child.pid, signal.SIGKILL)

    def reap(self) -> None:
        """Handle each job process that ended: record why (while its pid
        still exists, as a zombie), then reap it and plan its restart."""
        for pid in list(self.children):
            status = _exit_status_without_reaping(pid)
            if status is None:
                continue
            child = self.children[pid]
            reason = exit_reason(status, child.memory_killed)
            if reason:
                _logger.error('job process %d ended: %s', pid, reason)
            else:
                _logger.info('job process %d exited', pid)
            try:
                self.mark_dead(pid, reason)
            except Exception:  # the reaper still requeues them, with a vaguer reason
                _logger.exception('could not record why job process %d ended', pid)
            _reap(pid)
            del self.children[pid]
            self._plan_restart(child)

    def _plan_restart(self, child: JobProcess) -> None:
        slot = self.slots[child.slot]
        now = self.clock()
        if now - child.started < QUICK_DEATH:
            slot.restart_at = now + min(RESTART_BACKOFF_MAX,
                                        RESTART_BACKOFF_FIRST * 2 ** slot.quick_deaths)
            slot.quick_deaths += 1
        else:
            slot.restart_at = now
            slot.quick_deaths = 0

    # -- stop -----------------------------------------------------------------
    def stop(self, timeout: float, sleep: Callable[[float], None] = time.sleep) -> None:
        """SIGTERM to every job process (each stops claiming, gives its
        running jobs shutdown_timeout, requeues the rest), then wait
        ``timeout`` seconds; SIGKILL those still alive."""
        self.stopping = True
        for pid in list(self.children):
            _kill(pid, signal.SIGTERM)
        self._reap_for(timeout, sleep)
        for pid in list(self.children):
            _logger.warning('job process %d still running %.0f s after SIGTERM: killed',
                            pid, timeout)
            _kill(pid, signal.SIGKILL)
        self._reap_for(STOP_MARGIN, sleep)

    def _reap_for(self, seconds: float, sleep: Callable[[float], None]) -> None:
        """Reap the job processes as they end, for at most ``seconds``."""
        deadline = self.clock() + seconds
        while self.children and self.clock() < deadline:
            self.reap()
            sleep(CHECK_INTERVAL)


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _exit_status_without_reaping(pid: int) -> Optional[int]:
    """The wait status of a child that ended, leaving it a zombie (its pid
    keeps existing until _reap); None while it runs."""
    try:
        result = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return 0  # reaped by someone else: nothing known of how it ended
    if result is None:
        return None
    if result.si_code == os.CLD_EXITED:
        return (result.si_status & 0xff) << 8
    return result.si_status & 0x7f  # killed or dumped: the signal's number


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
