from odoo import fields, models


class QueueJobWorker(models.Model):
    _name = 'queue.job.worker'
    _description = 'Job Worker'
    _order = 'last_beat desc'
    _log_access = False

    uuid = fields.Char('UUID', required=True, readonly=True, index=True)
    host = fields.Char('Host', readonly=True)
    pid = fields.Integer('PID', readonly=True)
    threads = fields.Integer('Threads', readonly=True)
    date_started = fields.Datetime('Started', readonly=True)
    last_beat = fields.Datetime('Last Heartbeat', readonly=True)
