"""Jobs of the fault tests (tests/test_faults_*.py of the faults part:
timestamps, cut connections, restarts, kill -9, lost machines)."""
import time

from odoo import models

from odoo.addons.background_job import job


class TestRecordFaults(models.Model):
    _inherit = 'background.job.test.record'

    @job
    def faults_sleep(self, marker, seconds):
        """Sleeps ``seconds``, then logs: a job that takes a known time."""
        time.sleep(seconds)
        self.env['background.job.test.log'].create({'marker': marker})

    @job(max_retries=0)
    def faults_sleep_then_fail(self, marker, seconds):
        """Sleeps ``seconds``, then fails for good."""
        time.sleep(seconds)
        raise ValueError('%s failed after %ss' % (marker, seconds))

    @job
    def faults_log_then_sleep(self, marker, seconds):
        """Logs first, then sleeps: while it sleeps, its row is written and
        not committed (a job about to commit when its worker is cut off)."""
        self.env['background.job.test.log'].create({'marker': marker})
        time.sleep(seconds)
