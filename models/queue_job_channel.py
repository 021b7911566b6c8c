from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..engine import defaults, schema, store
from .groups import MANAGER_GROUP


class QueueJobChannel(models.Model):
    """A channel's limits hold for its jobs and its subchannels' (dotted
    names: root.mail is under root); the claim enforces them
    (engine/store/channels.py). Every change notifies the workers (a
    trigger, engine/schema.py)."""
    _name = 'queue.job.channel'
    _description = 'Job Channel'
    _order = 'name'

    name = fields.Char('Name', required=True, index=True,
                       help='Dotted name under root, e.g. root.mail; its limits also '
                            'hold for its subchannels (root.mail.bulk).')
    capacity = fields.Integer(
        'Capacity', default=0,
        help='How many jobs of this channel and its subchannels may run at once, '
             'across all workers and servers of the database; 0: no limit.')
    paused = fields.Boolean(
        'Paused', default=False,
        help='No job of this channel or its subchannels starts; running jobs finish.')
    rate_limit = fields.Integer(
        'Rate Limit', default=0,
        help='At most this many jobs of this channel and its subchannels start per '
             'rate period, across all servers; 0: no limit.')
    rate_period = fields.Integer('Rate Period (s)', default=60,
                                 help='Seconds of the rate limit\'s window.')
    running_count = fields.Integer('Running', compute='_compute_load')
    pending_count = fields.Integer('Pending', compute='_compute_load')

    _sql_constraints = [
        ('name_uniq', 'unique(name)', 'A channel with this name already exists.'),
        ('capacity_positive', 'check(capacity >= 0)', 'Capacity cannot be negative.'),
        ('rate_limit_positive', 'check(rate_limit >= 0)', 'Rate limit cannot be negative.'),
        ('rate_period_positive', 'check(rate_period > 0)',
         'The rate period must be at least one second.'),
    ]

    @api.model_cr
    def init(self):
        schema.install_channels(self.env.cr)

    @api.constrains('name')
    def _check_name(self):
        for channel in self:
            try:
                store.check_name(channel.name)
            except ValueError:
                raise ValidationError(_(
                    'Channel "%s" is not a dotted name under root (e.g. root.mail; '
                    'parts of letters, digits, _ or -).') % channel.name)

    @api.model
    def create(self, values):
        """Creating root.a.b creates root and root.a if they are missing."""
        try:
            parents = store.channel_ancestors(values.get('name'))[:-1]
        except ValueError:
            parents = []  # _check_name says why
        for parent in parents:
            if not self.search_count([('name', '=', parent)]):
                self.create({'name': parent})
        return super().create(values)

    @api.depends('name')
    def _compute_load(self):
        load = store.channel_load(self.env.cr, [name for name in self.mapped('name') if name])
        for channel in self:
            channel.running_count, channel.pending_count = load.get(channel.name, (0, 0))

    # -- pause and resume --------------------------------------------------------
    def pause(self):
        """No new job starts in these channels (and their subchannels) on
        any server once this commits; running jobs finish."""
        self.write({'paused': True})

    def resume(self):
        """Jobs of these channels start again (within a second)."""
        self.write({'paused': False})

    @api.model
    def pause_all(self):
        """Before an upgrade: pause root, hence every channel."""
        root = self.search([('name', '=', defaults.CHANNEL)]) or self.create(
            {'name': defaults.CHANNEL})
        root.pause()
        return self._reload()

    @api.model
    def resume_all(self):
        self.search([('paused', '=', True)]).resume()
        return self._reload()

    @api.model
    def _reload(self):
        return {'type': 'ir.actions.client', 'tag': 'reload'}

    @api.model
    def paused_channel_names(self):
        """The paused channels, for the Jobs list's banner (managers only:
        other users cannot act on them)."""
        if not self.env.user.has_group(MANAGER_GROUP):
            return []
        return self.sudo().search([('paused', '=', True)]).mapped('name')

    def action_open_jobs(self):
        """The channel's running and pending jobs."""
        self.ensure_one()
        action = self.env.ref('background_job.queue_job_action').read()[0]
        action.update(domain=[('channel', '=', self.name)],
                      context={'search_default_pending': 1, 'search_default_started': 1})
        return action
