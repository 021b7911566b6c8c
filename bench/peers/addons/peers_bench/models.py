"""The jobs every queue of ``make bench-peers`` runs, as plain methods: the
Celery and RQ tasks call them in an Odoo environment, the OCA and
background_job addons of this folder make them jobs of their queue."""
import time

from odoo import api, fields, models

# records one ORM job reads and writes (README: a batch job of 100 invoices)
BLOCK_SIZE = 100


class PeersBenchRecord(models.Model):
    _name = 'peers.bench.record'
    _description = 'Record the peer benchmark jobs run on'

    name = fields.Char()
    value = fields.Integer()
    block = fields.Integer(index=True)

    @api.multi
    def peers_noop(self):
        """Nothing: the queue's own cost."""
        return None

    @api.multi
    def peers_orm(self, block):
        """Read the 100 records of ``block`` and write each once."""
        records = self.search([('block', '=', block)])
        for row in records.read(['name', 'value']):
            records.browse(row['id']).write({'value': row['value'] + 1})
        return len(records)

    @api.multi
    def peers_effect(self, key, pause=0.0):
        """Insert the job's effect row (its key, when its code started), then
        wait ``pause`` seconds inside the job's transaction."""
        self.env['peers.bench.effect'].create({'key': key, 'started': time.time()})
        time.sleep(pause)
        return key


class PeersBenchEffect(models.Model):
    """One row per run of ``peers_effect``: lost and repeated jobs show."""
    _name = 'peers.bench.effect'
    _description = 'Effect of a peer benchmark job'

    key = fields.Char(index=True)
    started = fields.Float(digits=(20, 6))
