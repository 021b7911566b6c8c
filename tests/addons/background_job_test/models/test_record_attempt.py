"""Job methods of the tests of one job attempt (tests/test_job_attempt.py)."""
import json
import time

from odoo import models
from odoo.exceptions import UserError

from odoo.addons.background_job import FailedJobError, job


class TestRecordAttempt(models.Model):
    _inherit = 'background.job.test.record'

    @job
    def revoke_group(self, login, group_xmlid):
        """Take a group away from a user (a cache invalidation of ormcache)."""
        user = self.env['res.users'].search([('login', '=', login)])
        user.write({'groups_id': [(3, self.env.ref(group_xmlid).id)]})

    @job
    def sleep_then_give_up(self, marker, seconds):
        """Works (and writes) for a while, then fails for good."""
        self.env['background.job.test.log'].create({'marker': marker})
        time.sleep(seconds)
        raise FailedJobError('gave up %s after %ss' % (marker, seconds))

    @job
    def cancel_self_then_commit(self, marker):
        """Its row changes under it (here by its own SQL), then it commits."""
        self.env.cr.execute("UPDATE queue_job SET state = 'cancelled', worker_id = NULL "
                            "WHERE id = %s", (self.env.context['background_job_id'],))
        self.env.cr.commit()
        self.env['background.job.test.log'].create({'marker': marker})

    @job
    def log_names(self, marker, others):
        """Logs the names of a recordset argument."""
        self.env['background.job.test.log'].create(
            {'marker': marker, 'info': json.dumps(others.mapped('name'))})

    @job
    def return_text(self, marker, text):
        self.env['background.job.test.log'].create({'marker': marker})
        return text

    @job(max_retries=0)
    def raise_user_error(self, message):
        raise UserError(message)
