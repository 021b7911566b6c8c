"""Jobs of the claim tests (tests/test_server_claim.py): pauses, lock keys,
nested capacities, rate limits."""
import json
import time

from odoo import models

from odoo.addons.background_job import job


class ClaimfxRecord(models.Model):
    _inherit = 'background.job.test.record'

    @job
    def claimfx_span(self, marker, seconds):
        """Sleep ``seconds`` and log when the job's code started and ended
        (time.time()), so tests can check that two jobs never overlapped."""
        started = time.time()
        time.sleep(seconds)
        self.env['background.job.test.log'].create({'marker': marker, 'info': json.dumps(
            {'start': started, 'end': time.time()})})
