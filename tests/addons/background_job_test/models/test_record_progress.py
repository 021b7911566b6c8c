"""Job methods of the progress tests (tests/test_progress*.py) and of the
progress benchmark (bench/__main__.py)."""
import hashlib
import time

from odoo import models

from odoo.addons.background_job import job


class TestRecordProgress(models.Model):
    _inherit = 'background.job.test.record'

    @job
    def progress_steps(self, marker, steps, seconds, fail=False):
        """Report step i of ``steps`` then work ``seconds``; write a log row,
        and with ``fail`` raise at the end (the row is rolled back)."""
        jobs = self.env['queue.job']
        for step in range(steps):
            jobs.set_progress(step, steps, '%s: step %d of %d' % (marker, step, steps))
            time.sleep(seconds)
        jobs.set_progress(steps, steps, '%s: all %d steps' % (marker, steps))
        self.env['background.job.test.log'].create({'marker': marker})
        if fail:
            raise ValueError('%s failed after its last step' % marker)
        return marker

    @job
    def progress_on_locked_row(self, marker, steps, seconds):
        """Update the job's own row in its transaction (its lock is held,
        now by an update too), then report progress while working."""
        job_id = self.env.context['background_job_id']
        self.env.cr.execute('UPDATE queue_job SET name = %s WHERE id = %s',
                            ('%s: own row updated' % marker, job_id))
        self.progress_steps(marker, steps, seconds)
        return marker

    @job
    def progress_loop(self, count, report=True, chunk_bytes=0):
        """``count`` steps, each hashing ``chunk_bytes`` bytes (the work of an
        import that checksums its file's chunks), reporting every step with
        ``report`` (the benchmark compares both). Returns the CPU seconds of
        the loop (its thread's, whatever else the machine runs)."""
        jobs = self.env['queue.job']
        chunk = b'x' * chunk_bytes
        started = time.thread_time()
        for step in range(count):
            hashlib.sha256(chunk).digest()
            if report:
                jobs.set_progress(step + 1, count)
        return time.thread_time() - started
