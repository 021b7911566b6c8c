"""The numbers of the Job Queue overview (queue.job.overview_data) against
known rows: per channel pending, running, failed, done in the last hour and
the oldest due pending job; jobs done and failed per minute; the live and
dead workers; only what the reader's record rules show, to managers only."""
import datetime
import unittest

from odoo.exceptions import AccessError
from odoo.tests.common import TransactionCase

from odoo.addons.background_job.engine import overview

from .test_backend import BackendCase

MANAGER_GROUPS = ('base.group_user', 'background_job.background_job_group_manager')


class TestOverviewData(BackendCase):

    def setUp(self):
        super().setUp()
        self.env.cr.execute('DELETE FROM queue_job')  # rolled back with the test

    def job(self, channel, state, done_seconds_ago=None, eta_seconds_ago=0):
        """A job of ``channel`` in ``state``, finished ``done_seconds_ago``
        and due since ``eta_seconds_ago`` (negative: not due yet)."""
        job = self.record.with_delay(channel=channel).log_run('overview')
        self.env.cr.execute(
            "UPDATE queue_job SET state = %s,"
            " eta = (now() AT TIME ZONE 'UTC') - make_interval(secs => %s),"
            " date_done = (now() AT TIME ZONE 'UTC') - make_interval(secs => %s)"
            " WHERE id = %s", (state, eta_seconds_ago, done_seconds_ago, job.id))
        return job

    def make_jobs(self):
        a, b = 'root.overview_a', 'root.overview_b'
        self.job(a, 'pending', eta_seconds_ago=120)
        self.job(a, 'pending', eta_seconds_ago=30)
        self.job(a, 'pending', eta_seconds_ago=-3600)    # a retry later: pending, not due
        self.job(a, 'started')
        self.job(a, 'started')
        self.job(a, 'failed', done_seconds_ago=90)       # minute 1
        self.job(a, 'done', done_seconds_ago=10)         # minute 0
        self.job(a, 'done', done_seconds_ago=20)         # minute 0
        self.job(a, 'done', done_seconds_ago=125)        # minute 2
        self.job(a, 'done', done_seconds_ago=2 * 3600)   # before the last hour
        self.job(b, 'done', done_seconds_ago=59 * 60 + 30)  # minute 59
        self.job(b, 'cancelled', done_seconds_ago=5)
        self.job(b, 'pending', eta_seconds_ago=-60)
        self.env['queue.job.channel'].create({'name': 'root.overview_idle', 'capacity': 2})

    def channels(self, data):
        return {channel['name']: channel for channel in data['channels']}

    def test_counts_per_channel(self):
        self.make_jobs()
        channels = self.channels(self.env['queue.job'].overview_data())
        a = channels['root.overview_a']
        self.assertEqual((a['pending'], a['running'], a['failed'], a['done_last_hour']),
                         (3, 2, 1, 3))
        # the transaction's clock wrote the eta: exactly 120 s
        self.assertAlmostEqual(a['oldest_pending_seconds'], 120, delta=0.01)
        b = channels['root.overview_b']
        self.assertEqual((b['pending'], b['running'], b['failed'], b['done_last_hour']),
                         (1, 0, 0, 1))
        self.assertIsNone(b['oldest_pending_seconds'], 'its only pending job is not due')
        idle = channels['root.overview_idle']  # a channel row without jobs
        self.assertEqual((idle['capacity'], idle['pending'], idle['running'], idle['failed'],
                          idle['done_last_hour']), (2, 0, 0, 0, 0))
        self.assertIn('root', channels)  # the default channel's row
        self.assertEqual([name for name in channels], sorted(channels))

    def test_jobs_done_and_failed_per_minute_of_the_last_hour(self):
        self.make_jobs()
        minutes = self.env['queue.job'].overview_data()['minutes']
        self.assertEqual(len(minutes), 60)
        self.assertEqual([m['minutes_ago'] for m in minutes], list(range(59, -1, -1)))
        counted = {m['minutes_ago']: (m['done'], m['failed']) for m in minutes
                   if m['done'] or m['failed']}
        self.assertEqual(counted, {0: (2, 0), 1: (0, 1), 2: (1, 0), 59: (1, 0)})

    def test_paused_channels_once_channels_can_be_paused(self):
        self.make_jobs()
        data = self.env['queue.job'].overview_data()
        can_pause = 'paused' in self.env['queue.job.channel']._fields
        self.assertEqual(data['can_pause'], can_pause)
        if not can_pause:
            self.assertIsNone(self.channels(data)['root.overview_idle']['paused'])
            return
        self.env['queue.job.channel'].search([('name', '=', 'root.overview_idle')]).paused = True
        channels = self.channels(self.env['queue.job'].overview_data())
        self.assertIs(channels['root.overview_idle']['paused'], True)
        self.assertIs(channels['root']['paused'], False)

    def test_live_and_dead_workers_with_their_running_jobs(self):
        now = datetime.datetime.utcnow()
        self.env.cr.execute(
            "INSERT INTO queue_job_worker (uuid, host, pid, threads, date_started, last_beat,"
            " date_stopped) VALUES"
            " ('ov-live', 'overview-host', 11, 4, %(now)s, %(now)s, NULL),"
            " ('ov-dead', 'overview-host', 12, 2, %(now)s, %(old)s, NULL),"
            " ('ov-stopped', 'overview-host', 13, 2, %(now)s, %(now)s, %(now)s)"
            " RETURNING id", {'now': now, 'old': now - datetime.timedelta(hours=1)})
        live_id = self.env.cr.fetchone()[0]
        running = self.job('root', 'started')
        self.env.cr.execute('UPDATE queue_job SET worker_id = %s WHERE id = %s',
                            (live_id, running.id))
        workers = {worker['name']: worker for worker in
                   self.env['queue.job'].overview_data()['workers']
                   if worker['name'].startswith('overview-host')}
        self.assertEqual(set(workers), {'overview-host:11', 'overview-host:12'})
        live, dead = workers['overview-host:11'], workers['overview-host:12']
        self.assertEqual((live['status'], live['threads'], live['running']), ('live', 4, 1))
        self.assertEqual((dead['status'], dead['running']), ('dead', 0))
        self.assertLess(live['beat_seconds_ago'], 60)
        self.assertGreater(dead['beat_seconds_ago'], 3500)

    def test_a_manager_sees_the_jobs_of_their_companies_only(self):
        self.make_jobs()
        other_company = self.env['res.company'].create({'name': 'Overview Other Co'})
        manager = self.user('jq_overview_other_boss', *MANAGER_GROUPS, company=other_company)
        self.record.sudo(manager).with_delay(channel='root.overview_a').log_run('theirs')
        channels = self.channels(self.env['queue.job'].sudo(manager).overview_data())
        a = channels['root.overview_a']
        self.assertEqual((a['pending'], a['running'], a['failed'], a['done_last_hour']),
                         (1, 0, 0, 0))
        self.assertNotIn('root.overview_b', channels)  # no job of theirs, no channel row
        here = self.user('jq_overview_boss', *MANAGER_GROUPS)
        self.assertEqual(self.channels(self.env['queue.job'].sudo(here).overview_data())
                         ['root.overview_a']['pending'], 3)

    def test_users_who_are_not_managers_are_refused(self):
        user = self.user('jq_overview_user', 'base.group_user')
        with self.assertRaises(AccessError):
            self.env['queue.job'].sudo(user).overview_data()
        with self.assertRaises(AccessError):
            self.env['queue.job'].sudo(user).overview_jobs_action('root', 'failed')


class TestOverviewJobsAction(TransactionCase):

    def test_a_count_opens_the_jobs_list_of_its_channel_and_state(self):
        action = self.env['queue.job'].overview_jobs_action('root.mail', 'running')
        self.assertEqual(action['res_model'], 'queue.job')
        self.assertEqual(action['domain'], [('channel', '=', 'root.mail')])
        self.assertEqual(action['context'], {'search_default_started': 1})
        with self.assertRaisesRegex(ValueError, 'count must be one of'):
            self.env['queue.job'].overview_jobs_action('root', 'done')


class TestOverviewAssembly(unittest.TestCase):
    """engine/overview.py alone: rows in, the overview out."""

    def test_rows_of_unknown_states_or_outside_the_window_are_left_out(self):
        finished = [('root', 'done', 0, 2), ('root', 'failed', 60, 5), ('root', 'cancelled', 3, 1)]
        minutes = overview.minutes(finished)
        self.assertEqual((minutes[-1]['done'], sum(m['failed'] for m in minutes)), (2, 0))
        channels = overview.channels([], [('waiting', 'root', 4, None)], finished)
        self.assertEqual([(c['name'], c['pending'], c['done_last_hour']) for c in channels],
                         [('root', 0, 2)])
