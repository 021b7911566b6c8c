import datetime
import logging

from odoo import _, api, fields, models

from ..engine import store
from ..service import options

_logger = logging.getLogger(__name__)

STATUS = [('live', 'Live'), ('dead', 'Dead'), ('stopped', 'Stopped')]


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
    date_stopped = fields.Datetime('Stopped', readonly=True,
                                   help='Set when the worker stopped cleanly; its row is '
                                        'kept so its jobs still say who ran them.')
    exit_reason = fields.Char('Exit Reason', readonly=True,
                              help='Why its job process died (memory limit, a crash), '
                                   'as its supervisor saw it; its running jobs were '
                                   'requeued with this reason.')
    status = fields.Selection(
        STATUS, 'Status', compute='_compute_status', search='_search_status',
        help='Dead: no heartbeat for longer than dead_after seconds; its running '
             'jobs are requeued by the other workers.')
    job_ids = fields.One2many('queue.job', 'worker_id', 'Running Jobs', readonly=True,
                              domain=[('state', '=', 'started')])
    running_count = fields.Integer('Running', compute='_compute_running_count')

    @api.multi
    def name_get(self):
        return [(worker.id, '%s:%s' % (worker.host, worker.pid)) for worker in self]

    @staticmethod
    def _dead_before():
        """Heartbeats older than this (UTC string) mean a dead worker."""
        seconds = options.settings().dead_after
        return fields.Datetime.to_string(
            datetime.datetime.utcnow() - datetime.timedelta(seconds=seconds))

    @api.depends('last_beat', 'date_stopped')
    def _compute_status(self):
        dead_before = self._dead_before()
        for worker in self:
            if worker.date_stopped:
                worker.status = 'stopped'
            elif not worker.last_beat or worker.last_beat < dead_before:
                worker.status = 'dead'
            else:
                worker.status = 'live'

    def _search_status(self, operator, value):
        if operator not in ('=', '!=', 'in', 'not in'):
            raise ValueError(_('Unsupported operator %s for the worker status') % operator)
        wanted = {value} if isinstance(value, str) else set(value or ())
        if operator in ('!=', 'not in'):
            wanted = {key for key, _label in STATUS} - wanted
        dead_before = self._dead_before()
        domains = {
            'live': ['&', ('date_stopped', '=', False), ('last_beat', '>=', dead_before)],
            'dead': ['&', ('date_stopped', '=', False), '|', ('last_beat', '=', False),
                     ('last_beat', '<', dead_before)],
            'stopped': [('date_stopped', '!=', False)],
        }
        parts = [domains[key] for key in sorted(wanted) if key in domains]
        if not parts:
            return [('id', '=', False)]
        return ['|'] * (len(parts) - 1) + [term for part in parts for term in part]

    @api.depends('job_ids')
    def _compute_running_count(self):
        for worker in self:
            worker.running_count = len(worker.job_ids)

    @api.model
    def _cron_purge(self):
        """Remove the rows of workers stopped or dead for keep_days days
        ([background_job] section) that no job refers to any more."""
        days = self.env['queue.job']._keep_days()
        removed = store.purge_workers(self.env.cr, days)
        _logger.info('removed %d job worker rows older than %d days', removed, days)
