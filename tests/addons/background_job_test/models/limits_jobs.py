"""Job methods of the time limit, Stop and shutdown tests
(tests/test_faults_limits.py, tests/test_faults_shutdown.py,
tests/test_limits.py). Each writes a row first: the tests check that
nothing of an ended attempt is committed."""
import socket
import time

from odoo import models

from odoo.addons.background_job import job

# Hung jobs give up on their own after this many seconds, so that nothing a
# test starts runs unbounded.
HANG_BOUND = 120


class LimitsRecord(models.Model):
    _inherit = 'background.job.test.record'

    def _limits_log(self, marker):
        self.env['background.job.test.log'].create({'marker': marker})

    @job(timeout=2, max_retries=1, retry_pattern={1: 600})
    def limits_python_loop(self, marker):
        """Hangs in pure Python."""
        self._limits_log(marker)
        count, end = 0, time.monotonic() + HANG_BOUND
        while time.monotonic() < end:
            count += 1
        self._limits_log(marker + ' returned')

    @job(timeout=2, max_retries=1, retry_pattern={1: 600})
    def limits_sleep(self, marker, seconds=HANG_BOUND):
        """Hangs in C code (time.sleep stands for a call that never answers)."""
        self._limits_log(marker)
        time.sleep(seconds)
        self._limits_log(marker + ' returned')

    @job(timeout=2, max_retries=1, retry_pattern={1: 600})
    def limits_socket_read(self, marker, port):
        """Hangs reading a socket whose peer never answers."""
        self._limits_log(marker)
        with socket.create_connection(('127.0.0.1', port)) as peer:
            peer.settimeout(HANG_BOUND)
            peer.recv(1)
        self._limits_log(marker + ' returned')

    @job(timeout=2, max_retries=1, retry_pattern={1: 600})
    def limits_sql_sleep(self, marker):
        """Hangs in a statement."""
        self._limits_log(marker)
        self.env.cr.execute('SELECT pg_sleep(%s)', (HANG_BOUND,))
        self._limits_log(marker + ' returned')

    @job(timeout=2, max_retries=2, retry_pattern={1: 1})
    def limits_sleep_retried(self, marker, seconds):
        """Runs past its limit, is retried soon after: an ended attempt's
        thread wakes while a later attempt of the same job runs."""
        self._limits_log(marker)
        time.sleep(seconds)
        self._limits_log(marker + ' woke')

    @job
    def limits_until_stopped(self, marker, seen_path=None):
        """Works until it is asked to stop (stop_requested), then says so in
        ``seen_path`` (a file: its rows are rolled back) and returns."""
        self._limits_log(marker)
        end = time.monotonic() + HANG_BOUND
        while time.monotonic() < end:
            if self.env['queue.job'].stop_requested():
                if seen_path:
                    with open(seen_path, 'w') as seen:
                        seen.write('stop requested')
                return 'noticed the stop'
            time.sleep(0.02)

    @job
    def limits_deaf_sleep(self, marker, seconds=HANG_BOUND):
        """Never asks whether it should stop (blocked in C code)."""
        self._limits_log(marker)
        time.sleep(seconds)

    @job
    def limits_chunk(self, marker):
        """A batch's job: records of value 1 work until stopped."""
        if any(record.value == 1 for record in self):
            self.limits_until_stopped(marker)
            return
        self.env['background.job.test.log'].create({'marker': marker})

    @job
    def limits_effect(self, marker, seconds):
        """An effect (a row), then work for a while (the shutdown test)."""
        self._limits_log(marker)
        time.sleep(seconds)

    @job(timeout=0)
    def limits_no_limit(self, seconds):
        time.sleep(seconds)
