from odoo import fields, models


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

    _sql_constraints = [
        ('name_uniq', 'unique(name)', 'A channel with this name already exists.'),
        ('capacity_positive', 'check(capacity >= 0)', 'Capacity cannot be negative.'),
    ]
