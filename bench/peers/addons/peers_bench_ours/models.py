"""The benchmark methods as background_job jobs (``delay()``)."""
from odoo import models

from odoo.addons.background_job import job


class PeersBenchRecord(models.Model):
    _inherit = 'peers.bench.record'

    @job
    def peers_noop(self):
        return super().peers_noop()

    @job
    def peers_orm(self, block):
        return super().peers_orm(block)

    @job
    def peers_effect(self, key, pause=0.0):
        return super().peers_effect(key, pause)
