"""Job methods of the chain, group and periodic-job tests (prefix chains_)."""
import json
import time

from odoo import models

from odoo.addons.background_job import FailedJobError, job


class ChainsRecord(models.Model):
    _inherit = 'background.job.test.record'

    @job
    def chains_step(self, marker, step=None, seconds=0):
        """Log one run of a step: its job, when, and which steps of the same
        marker it saw committed before it."""
        if seconds:
            time.sleep(seconds)
        Log = self.env['background.job.test.log']
        seen = [json.loads(log.info)['step'] for log in Log.search([('marker', '=', marker)])]
        self.env.cr.execute("SELECT clock_timestamp() AT TIME ZONE 'UTC'")
        info = {'step': step, 'job_id': self.env.context.get('background_job_id'),
                'at': str(self.env.cr.fetchone()[0]), 'ids': self.ids, 'seen': sorted(seen)}
        Log.create({'marker': marker, 'info': json.dumps(info)})
        return step

    @job(max_retries=0)
    def chains_fail(self, marker):
        """Log, then fail for good (the log is rolled back)."""
        self.env['background.job.test.log'].create({'marker': marker})
        raise FailedJobError('chains: %s fails' % marker)

    @job(max_retries=0)
    def chains_fail_unless_fixed(self, marker):
        """Fail for good while the record's value is -1; else log a step."""
        if self.value == -1:
            raise FailedJobError('chains: record %s is not fixed' % self.id)
        return self.chains_step(marker, step='fixed')

    def chains_cron_fail(self, marker):
        """A periodic job's code that fails (a plain method: the cron's action calls it)."""
        self.env['background.job.test.log'].create({'marker': marker})
        raise ValueError('chains: periodic %s fails' % marker)

    def chains_not_a_job(self):
        return True
