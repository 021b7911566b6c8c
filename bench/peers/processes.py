"""Worker processes of a system: started together (and ready), killed with
-9 together, stopped gracefully."""
import contextlib
import os
import signal
import subprocess
import time

from tests.odoo_server import _die_with_parent, wait_until

from . import venv


def signal_all(pids, number):
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, number)


class Workers:
    """``commands`` run from the checkout with ``env`` added, output to
    ``log``; ``ready(pids)`` tells when they serve."""

    def __init__(self, commands, log, ready, env=None, timeout=120):
        self.commands, self.log, self.ready = commands, log, ready
        self.env = dict(os.environ, **(env or {}))
        self.timeout = timeout
        self.processes = []

    @property
    def pids(self):
        return [process.pid for process in self.processes]

    def start(self):
        with open(self.log, 'ab') as log:
            self.processes = [subprocess.Popen(
                command, cwd=venv.ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
                for command in self.commands]

        def serving():
            exited = [process.args for process in self.processes if process.poll() is not None]
            if exited:
                raise RuntimeError('worker exited at start: %s (see %s)' % (exited[0], self.log))
            return self.ready(self.pids)
        wait_until(serving, self.timeout, 'workers ready (log: %s)' % self.log)
        return self

    def kill(self):
        """kill -9: a crash, no shutdown code runs."""
        signal_all(self.pids, signal.SIGKILL)
        for process in self.processes:
            process.wait()

    def stop(self, timeout=30):
        signal_all(self.pids, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
