"""The job table. Rows are written by the engine (engine/store.py) in plain
SQL; this model gives them to the backend and to Python code."""
from odoo import api, fields, models

from ..engine import schema, states


class QueueJob(models.Model):
    _name = 'queue.job'
    _description = 'Background Job'
    _order = 'date_created desc, id desc'
    _log_access = False  # date_created and user_id say who and when

    uuid = fields.Char('UUID', readonly=True, required=True, index=True)
    name = fields.Char('Description', readonly=True)
    model_name = fields.Char('Model', readonly=True, required=True, index=True)
    method_name = fields.Char('Method', readonly=True, required=True, index=True)
    record_ids = fields.Text('Record IDs', readonly=True, default='[]',
                             help='JSON list of the ids the method runs on.')
    args = fields.Text('Positional Arguments', readonly=True, default='[]')
    kwargs = fields.Text('Keyword Arguments', readonly=True, default='{}')
    context = fields.Text('Context', readonly=True, default='{}',
                          help='The context keys the job runs with (JSON).')
    user_id = fields.Many2one('res.users', 'User', readonly=True, index=True,
                              required=True, ondelete='restrict')
    company_id = fields.Many2one('res.company', 'Company', readonly=True,
                                 index=True, ondelete='restrict')
    channel = fields.Char('Channel', readonly=True, required=True, index=True,
                          default='root')
    priority = fields.Integer('Priority', readonly=True, default=10,
                              help='Lower runs first.')
    eta = fields.Datetime('Not Before', readonly=True, required=True,
                          default=fields.Datetime.now)
    state = fields.Selection(states.SELECTION, 'State', readonly=True,
                             required=True, index=True, default=states.PENDING)
    retry = fields.Integer('Retries', readonly=True, default=0)
    max_retries = fields.Integer('Max Retries', readonly=True, default=5,
                                 help='0: never retried.')
    timeout = fields.Integer('Time Limit (s)', readonly=True, default=0,
                             help='0: the default time limit of the server.')
    identity_key = fields.Char('Identity Key', readonly=True)
    exc_type = fields.Char('Exception', readonly=True)
    exc_message = fields.Text('Exception Message', readonly=True)
    exc_info = fields.Text('Traceback', readonly=True)
    result = fields.Text('Result', readonly=True)
    date_created = fields.Datetime('Created', readonly=True, required=True,
                                   default=fields.Datetime.now)
    date_started = fields.Datetime('Started', readonly=True)
    date_done = fields.Datetime('Finished', readonly=True)
    exec_time = fields.Float('Execution Time (s)', readonly=True,
                             group_operator='avg')
    worker_id = fields.Many2one('queue.job.worker', 'Worker', readonly=True,
                                ondelete='set null')
    parent_id = fields.Many2one('queue.job', 'Batch', readonly=True,
                                index=True, ondelete='cascade')
    child_ids = fields.One2many('queue.job', 'parent_id', 'Batch Jobs',
                                readonly=True)

    @api.model_cr
    def init(self):
        schema.install(self.env.cr)
