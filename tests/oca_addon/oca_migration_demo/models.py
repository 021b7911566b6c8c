"""Jobs written for OCA queue_job 11.0, as a module using it writes them.
Porting it to background_job changes the two import lines and the
manifest's dependency, nothing else (tests/test_oca_migration.py)."""
import datetime
import json

from odoo import api, fields, models

from odoo.addons.queue_job.job import job, related_action, identity_exact
from odoo.addons.queue_job.exception import RetryableJobError


class OcaMigrationEffect(models.Model):
    """One row per run of a job: the test counts runs."""
    _name = 'oca.migration.effect'
    _description = 'Run of a migrated job (tests)'

    marker = fields.Char()
    info = fields.Text()


class OcaMigrationTarget(models.Model):
    _name = 'oca.migration.target'
    _description = 'Record that migrated jobs run on (tests)'

    name = fields.Char()

    @api.multi
    @job(default_channel='root.oca_sub', retry_pattern={1: 5})
    @related_action(action='related_action_open_record')
    def oca_record_run(self, marker, when=None, partners=None, stamp=None):
        """Record one run of a migrated job"""
        if when and when > datetime.date.today():
            raise RetryableJobError('not before %s' % when, seconds=3600)
        self.env['oca.migration.effect'].create({'marker': marker, 'info': json.dumps({
            'uid': self.env.uid, 'company': self.env.user.company_id.id, 'ids': self.ids,
            'when': when and when.isoformat(), 'stamp': stamp and stamp.isoformat(),
            'partners': partners.ids if partners is not None else None})})
        return marker

    @api.multi
    @job
    def oca_plain_run(self, marker):
        self.env['oca.migration.effect'].create({'marker': marker})
        return marker

    @api.multi
    def oca_delay_once(self, marker):
        """Enqueue oca_plain_run unless the same call waits already."""
        return self.with_delay(identity_key=identity_exact).oca_plain_run(marker)
