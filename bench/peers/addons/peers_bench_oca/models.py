"""The benchmark methods as OCA queue_job jobs (``with_delay()``)."""
from odoo import api, models

from odoo.addons.queue_job.job import job


class PeersBenchRecord(models.Model):
    _inherit = 'peers.bench.record'

    @job(default_channel='root')
    @api.multi
    def peers_noop(self):
        return super().peers_noop()

    @job(default_channel='root')
    @api.multi
    def peers_orm(self, block):
        return super().peers_orm(block)

    @job(default_channel='root')
    @api.multi
    def peers_effect(self, key, pause=0.0):
        return super().peers_effect(key, pause)
