"""Jobs of the job-process tests (tests/test_job_processes.py) and of the
real-work benchmarks (bench/real_work.py): which process ran them, memory
that leaks or explodes, a crash of the interpreter, CPU and ORM work."""
import ctypes
import os
import time

from odoo import models

from odoo.addons.background_job import job

MB = 1024 * 1024
# Memory a leaking job keeps for the life of its process.
_leaked = []


class TestRecordProcesses(models.Model):
    _inherit = 'background.job.test.record'

    def _processes_log(self, marker):
        self.env['background.job.test.log'].create({'marker': marker, 'info': str(os.getpid())})

    @job
    def processes_pid(self, marker, seconds=0):
        """Logs the pid of the process that ran it."""
        time.sleep(seconds)
        self._processes_log(marker)

    @job
    def processes_leak(self, marker, megabytes):
        """Keeps ``megabytes`` of memory for the rest of its process's life."""
        _leaked.append(b'x' * (megabytes * MB))
        self._processes_log(marker)

    @job(max_retries=2, retry_pattern={1: 0})
    def processes_blow(self, marker, megabytes, seconds=5):
        """Grows to ``megabytes`` over ``seconds``, then logs: over a hard
        memory limit below that, it never gets there."""
        chunks = []
        for _ in range(max(1, megabytes // 10)):
            chunks.append(b'x' * (10 * MB))
            time.sleep(seconds / max(1, megabytes // 10))
        self._processes_log(marker)

    @job(max_retries=1, retry_pattern={1: 0})
    def processes_segfault(self, marker):
        """Crashes its interpreter (reads address 0)."""
        ctypes.string_at(0)

    @job
    def processes_cpu(self, milliseconds):
        """Pure Python work for about ``milliseconds`` of one core."""
        deadline = time.thread_time() + milliseconds / 1000.0
        total = 0
        while time.thread_time() < deadline:
            for number in range(1000):
                total += number * number
        return total

    @job
    def processes_orm(self, record_ids):
        """Reads these records and writes each once (invoice matching)."""
        records = self.browse(record_ids)
        for record in records:
            record.write({'value': record.value + len(record.name or '')})
