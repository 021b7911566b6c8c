"""The job process pool (engine/processes.py) on real forked processes,
without Odoo: why a process ended, restarts and their backoff, the hard
memory limit, stop."""
import faulthandler
import os
import signal
import time
import unittest

from odoo.addons.background_job.engine import processes
from odoo.addons.background_job.engine.processes import ProcessPool, exit_reason

MB = processes.MB


def fork(body):
    pid = os.fork()
    if pid == 0:
        faulthandler.disable()  # pytest's: a SIGSEGV sent to the child would print its stack
        try:
            body()
        finally:
            os._exit(0)
    return pid


def run_rounds(pool, until, timeout=10):
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        pool.round()
        time.sleep(0.02)
    return until()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class TestExitReason(unittest.TestCase):

    def test_signals_and_exit_statuses_name_what_happened(self):
        self.assertEqual(exit_reason(signal.SIGSEGV),
                         'its job process died of signal 11 (SIGSEGV)')
        self.assertEqual(exit_reason(signal.SIGKILL),
                         'its job process was killed by signal 9 (SIGKILL)')
        self.assertEqual(exit_reason(3 << 8), 'its job process exited with status 3')
        self.assertIsNone(exit_reason(0), 'a clean exit requeued its own jobs')
        self.assertEqual(exit_reason(signal.SIGKILL, 'over the limit'), 'over the limit')

    def test_the_hard_limit_reason_says_which_limit_and_by_how_much(self):
        self.assertEqual(processes.memory_hard_reason(710 * MB, 700 * MB),
                         'its job process exceeded limit_memory_hard (710 MB > 700 MB) '
                         'and was killed')

    def test_a_pool_needs_a_process(self):
        with self.assertRaises(ValueError):
            ProcessPool(0, spawn=lambda slot: 0, mark_dead=lambda pid, reason: None)


class TestPool(unittest.TestCase):

    def setUp(self):
        self.dead = []
        self.spawned = []

    def pool(self, body, size=1, **options):
        def spawn(slot):
            pid = fork(body)
            self.spawned.append(pid)
            return pid
        pool = ProcessPool(size, spawn, lambda pid, reason: self.dead.append((pid, reason)),
                           **options)
        self.addCleanup(pool.stop, 5)
        return pool

    def test_a_crashed_process_is_reported_while_its_pid_exists_then_replaced(self):
        seen_alive = []

        def mark_dead(pid, reason):
            seen_alive.append(os.path.exists('/proc/%d' % pid))  # a zombie, not reaped
            self.dead.append((pid, reason))

        pool = ProcessPool(2, lambda slot: self.spawned.append(fork(lambda: time.sleep(30)))
                           or self.spawned[-1], mark_dead)
        self.addCleanup(pool.stop, 5)
        pool.round()
        first, second = self.spawned
        os.kill(first, signal.SIGSEGV)
        self.assertTrue(run_rounds(pool, lambda: self.dead), 'the crash is seen')
        self.assertEqual(self.dead, [(first, 'its job process died of signal 11 (SIGSEGV)')])
        self.assertEqual(seen_alive, [True], 'reported before the pid is reaped')
        self.assertFalse(os.path.exists('/proc/%d' % first), 'then reaped')
        pool.slots[0].restart_at = 0  # skip the backoff of a quick death
        pool.round()
        self.assertEqual(len(pool.children), 2, 'replaced')
        self.assertIn(second, pool.children)

    def test_processes_that_keep_dying_at_start_restart_ever_later(self):
        clock = Clock()
        pool = self.pool(lambda: os._exit(1), clock=clock)
        delays = []
        for _ in range(4):
            pool.round()  # starts one
            self.assertTrue(run_rounds(pool, lambda: not pool.children), 'it exits')
            delays.append(pool.slots[0].restart_at - clock.now)
            clock.now = pool.slots[0].restart_at
        self.assertEqual(delays, [0.5, 1.0, 2.0, 4.0])
        self.assertEqual({reason for _, reason in self.dead},
                         {'its job process exited with status 1'})

    def test_a_process_that_lived_a_while_restarts_at_once(self):
        clock = Clock()
        pool = self.pool(lambda: time.sleep(30), clock=clock)
        pool.round()
        clock.now += processes.QUICK_DEATH + 1
        os.kill(self.spawned[0], signal.SIGKILL)
        self.assertTrue(run_rounds(pool, lambda: len(self.spawned) == 2), 'restarted')
        self.assertEqual(self.dead[0][1], 'its job process was killed by signal 9 (SIGKILL)')

    def test_a_process_over_the_hard_limit_is_killed_with_that_reason(self):
        def grow():
            chunks = []
            for _ in range(100):
                chunks.append(b'x' * (5 * MB))
                time.sleep(0.01)
            time.sleep(30)
        pool = self.pool(grow, memory_hard=150 * MB)
        pool.round()
        self.assertTrue(run_rounds(pool, lambda: self.dead, timeout=20), 'killed')
        pid, reason = self.dead[0]
        self.assertEqual(pid, self.spawned[0])
        self.assertRegex(reason, r'^its job process exceeded limit_memory_hard '
                                 r'\(1[5-9]\d MB > 150 MB\) and was killed$')

    def test_stop_terminates_then_kills_what_ignores_sigterm(self):
        def deaf():
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            time.sleep(30)
        pool = self.pool(lambda: time.sleep(30), size=1)
        pool.round()
        pool.stop(5)
        self.assertEqual(pool.children, {})
        self.assertEqual(self.dead, [(self.spawned[0],
                                      'its job process was killed by signal 15 (SIGTERM)')])
        deaf_pool = self.pool(deaf)
        deaf_pool.round()
        time.sleep(0.2)  # its handler is set
        started = time.monotonic()
        deaf_pool.stop(0.5)
        self.assertLess(time.monotonic() - started, processes.STOP_MARGIN)
        self.assertEqual(deaf_pool.children, {})
        self.assertEqual(self.dead[-1][1], 'its job process was killed by signal 9 (SIGKILL)')
        deaf_pool.round()
        self.assertEqual(deaf_pool.children, {}, 'a stopped pool starts nothing')
