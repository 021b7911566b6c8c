"""The Job Queue app's first screen (static/src/js/overview.js) reads all it
shows with one call, ``queue.job.overview_data()``: a few statements on
indexes (engine/store/overview.py) and the small channel and worker tables.

Job counts are those of the reader's record rules, as in the Jobs list that
a click on a count opens: a manager sees the jobs of their companies."""
import datetime

from odoo import _, api, fields, models
from odoo.exceptions import AccessError

from ..engine import overview, store
from .queue_job import MANAGER_GROUP

# Shown workers: live and dead ones (stopped ones are history), newest
# heartbeat first. Dead rows stay until the cleanup cron removes them.
SHOWN_WORKERS = 20
# The Jobs list's filter (views/queue_job_views.xml) of each clickable count.
COUNT_FILTERS = {'pending': 'pending', 'running': 'started', 'failed': 'failed'}


class QueueJob(models.Model):
    _inherit = 'queue.job'

    @api.model
    def overview_data(self):
        """Channels (open jobs, done in the last hour, oldest due pending
        job, paused), jobs done and failed per minute over the last hour,
        and the live and dead workers. Job queue managers only."""
        self._check_overview_access()
        cr, scope = self.env.cr, self._overview_scope()
        finished = store.finished_by_minute(cr, scope)
        channels = overview.channels(self._overview_known_channels(),
                                     store.open_job_counts(cr, scope), finished)
        return {
            'channels': channels,
            'minutes': overview.minutes(finished),
            'workers': self._overview_workers(),
            'can_pause': self._channels_can_pause(),
        }

    @api.model
    def overview_jobs_action(self, channel, count):
        """The Jobs list of one of the overview's counts: ``channel``'s jobs
        under the filter of ``count`` (pending, running or failed)."""
        self._check_overview_access()
        if count not in COUNT_FILTERS:
            raise ValueError('count must be one of %s, not %r' % (sorted(COUNT_FILTERS), count))
        action = self.env.ref('background_job.queue_job_action').read()[0]
        action.update(domain=[('channel', '=', channel)],
                      context={'search_default_%s' % COUNT_FILTERS[count]: 1})
        return action

    # -- parts -----------------------------------------------------------------
    def _check_overview_access(self):
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(_('Only job queue managers can see the job queue overview.'))

    def _overview_scope(self):
        """The record rules' condition on queue_job for this user, as SQL."""
        query = self._where_calc([])
        self._apply_ir_rules(query, 'read')
        tables, where, params = query.get_sql()
        return store.Scope(tables, where or 'TRUE', tuple(params))

    def _channels_can_pause(self):
        # queue.job.channel gains ``paused`` with channel pause/resume; the
        # overview shows it once it exists.
        return 'paused' in self.env['queue.job.channel']._fields

    def _overview_known_channels(self):
        names = ['name', 'capacity'] + (['paused'] if self._channels_can_pause() else [])
        return [(row['name'], row['capacity'], row.get('paused'))
                for row in self.env['queue.job.channel'].search_read([], names)]

    def _overview_workers(self):
        workers = self.env['queue.job.worker'].search(
            [('status', 'in', ('live', 'dead'))], limit=SHOWN_WORKERS)
        now = datetime.datetime.utcnow()
        return [{
            'id': worker.id,
            'name': worker.display_name,
            'threads': worker.threads,
            'status': worker.status,
            'running': worker.running_count,
            'beat_seconds_ago': (now - fields.Datetime.from_string(worker.last_beat))
            .total_seconds() if worker.last_beat else None,
        } for worker in workers]
