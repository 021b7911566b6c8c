from odoo import api, fields, models

from ..engine import store


class QueueJobChannel(models.Model):
    _name = 'queue.job.channel'
    _description = 'Job Channel'
    _order = 'name'

    name = fields.Char('Name', required=True, index=True,
                       help='Dotted name, e.g. root.mail.')
    capacity = fields.Integer(
        'Capacity', default=0,
        help='How many jobs of this channel may run at once, across all '
             'workers and servers of the database; 0: no limit.')
    running_count = fields.Integer('Running', compute='_compute_load')
    pending_count = fields.Integer('Pending', compute='_compute_load')

    _sql_constraints = [
        ('name_uniq', 'unique(name)', 'A channel with this name already exists.'),
        ('capacity_positive', 'check(capacity >= 0)', 'Capacity cannot be negative.'),
    ]

    @api.depends('name')
    def _compute_load(self):
        load = store.channel_load(self.env.cr, [name for name in self.mapped('name') if name])
        for channel in self:
            channel.running_count, channel.pending_count = load.get(channel.name, (0, 0))

    def action_open_jobs(self):
        """The channel's running and pending jobs."""
        self.ensure_one()
        action = self.env.ref('background_job.queue_job_action').read()[0]
        action.update(domain=[('channel', '=', self.name)],
                      context={'search_default_pending': 1, 'search_default_started': 1})
        return action
