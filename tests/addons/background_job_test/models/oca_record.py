"""Jobs written with OCA queue_job's spellings (tests/test_oca_api.py)."""
import json

from odoo import api, models

from odoo.addons.background_job import RetryableJobError, job, related_action


class TestRecord(models.Model):
    _inherit = 'background.job.test.record'

    @job(default_channel='root.oca_channel', retry_pattern={1: 7, 3: 30})
    @related_action(action='oca_related_action_logs', title='Logs of the job')
    def oca_log(self, marker):
        """Log one run (OCA spelling)"""
        self.env['background.job.test.log'].create({'marker': marker})
        return marker

    @related_action(action='oca_related_action_logs')
    @job
    def oca_related_on_top(self, marker):
        self.env['background.job.test.log'].create({'marker': marker})

    @job
    @related_action()
    def oca_no_related_action(self):
        return None

    @job
    @related_action(action='oca_no_such_method')
    def oca_missing_related_action(self):
        return None

    @api.multi
    @job
    def oca_multi(self, marker):
        self.env['background.job.test.log'].create({'marker': marker})
        return len(self)

    @job(max_retries=1)
    def oca_retry_ignoring_count(self, marker):
        self.env['background.job.test.log'].create({'marker': marker})
        raise RetryableJobError('not yet %s' % marker, seconds=1, ignore_retry=True)


class QueueJob(models.Model):
    _inherit = 'queue.job'

    def oca_related_action_logs(self, title='Logs'):
        """A related action of the tests: the logs of the job's marker."""
        self.ensure_one()
        return {'type': 'ir.actions.act_window', 'name': title,
                'res_model': 'background.job.test.log', 'view_mode': 'tree',
                'domain': [('marker', 'in', json.loads(self.args))]}
