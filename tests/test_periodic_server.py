"""Periodic jobs with real commits: cron threads racing for the same due
times (Odoo's own cron code, ir.cron._acquire_job, in several threads at
once) give one job per due time, which two real servers run one after the
other, never overlapping; a failing periodic job is retried like any job."""
import datetime
import time
import unittest

import pytest
from odoo import SUPERUSER_ID, api
from odoo.addons.base.ir.ir_cron import ir_cron

from . import odoo_server
from .common import (
    CommittedDatabase, as_datetime, in_threads, server_command, server_config, wait_for,
)

pytestmark = pytest.mark.server

MODEL = 'background.job.test.record'
# How long the two servers' cron threads run on their own.
FIVE_MINUTES = 300


class TestPeriodicJobs(unittest.TestCase):

    def setUp(self):
        self.db = CommittedDatabase()
        self.addCleanup(self.db.drop)
        # only the tests' crons are due
        self.db.query("UPDATE ir_cron SET nextcall = now() + interval '1 day'")

    def make_cron(self, name, code):
        with self.db.env() as env:
            model = env['ir.model'].search([('model', '=', MODEL)])
            return env['ir.cron'].create({
                'name': name, 'model_id': model.id, 'state': 'code', 'code': code,
                'interval_number': 1, 'interval_type': 'minutes', 'numbercall': -1,
                'nextcall': '2026-01-01 00:00:00', 'run_as_queue_job': True,
                'user_id': SUPERUSER_ID}).id

    def due(self, cron_id, minute):
        """Make the cron due at 00:``minute`` on 2026-01-01 (in the past)."""
        due = datetime.datetime(2026, 1, 1) + datetime.timedelta(minutes=minute)
        self.db.query('UPDATE ir_cron SET nextcall = %s WHERE id = %s', (due, cron_id))
        return due

    def jobs(self, cron_id):
        """(due, id, state, date_started, end of its code, retry, exc_message)."""
        return self.db.query(
            "SELECT slot.due, job.id, job.state, job.date_started, "
            "       (SELECT (info::json->>'at')::timestamp FROM background_job_test_log "
            "        WHERE (info::json->>'job_id')::integer = job.id), job.retry, "
            "       job.exc_message "
            "FROM queue_job job LEFT JOIN queue_job_cron_slot slot ON slot.job_id = job.id "
            "WHERE job.model_name = 'ir.cron' AND job.record_ids = %s ORDER BY slot.due",
            ('[%d]' % cron_id,))

    def test_racing_cron_threads_give_one_job_per_due_time_run_one_after_the_other(self):
        cron_id = self.make_cron('periodic race', "model.chains_step('periodic', step='tick', seconds=0.3)")
        config = server_config('periodic-race', threads=2)
        servers = [odoo_server.OdooServer(self.db.name, log_name='odoo-%d' % n,
                                          command=server_command(config, self.db.name))
                   for n in (1, 2)]
        with servers[0], servers[1]:
            dues = []

            def acquire(barrier):  # Odoo's cron threads of the servers, polling together
                barrier.wait(10)
                ir_cron._acquire_job(self.db.name)
            for minute in range(12):
                dues.append(self.due(cron_id, minute))
                errors = in_threads(4, acquire)
                self.assertEqual(errors, [])
            wait_for(lambda: [row[2] for row in self.jobs(cron_id)] == ['done'] * 12, 120,
                     interval=0.2, message='the 12 periodic jobs done: %s' % self.jobs(cron_id))
        jobs = self.jobs(cron_id)
        self.assertEqual([as_datetime(row[0]) for row in jobs], dues, 'one job per due time')
        self.assertEqual(self.db.log_count('periodic'), 12, 'each ran once')
        for before, after in zip(jobs, jobs[1:]):
            self.assertGreater(as_datetime(after[3]), as_datetime(before[4]), 'a periodic job starts after the code of '
                                                    'the one before ended: %s then %s'
                                                    % (before, after))
        workers = self.db.query("SELECT count(DISTINCT worker_id) FROM queue_job "
                                "WHERE model_name = 'ir.cron'")[0][0]
        self.assertEqual(workers, 2, 'both servers ran periodic jobs')

    def test_two_servers_cron_threads_for_5_minutes_give_exactly_one_job_per_due_time(self):
        """Odoo's own cron threads (2 per server, each polling every 60 s
        and more), nothing driven by the test: a cron due every minute."""
        cron_id = self.make_cron('periodic 5 minutes', "model.chains_step('periodic-5min', step='tick')")
        self.db.query("UPDATE ir_cron SET nextcall = now() AT TIME ZONE 'UTC', doall = false "
                      "WHERE id = %s", (cron_id,))
        config = server_config('periodic-5min', {'max_cron_threads': 2}, threads=2)
        servers = [odoo_server.OdooServer(self.db.name, log_name='odoo-%d' % n,
                                          command=server_command(config, self.db.name))
                   for n in (1, 2)]
        with servers[0], servers[1]:
            time.sleep(FIVE_MINUTES)
            wait_for(lambda: all(row[2] == 'done' for row in self.jobs(cron_id)), 60,
                     interval=0.5, message='the periodic jobs done')
        jobs = self.jobs(cron_id)
        dues = [as_datetime(row[0]) for row in jobs]
        print('\n[periodic] two servers, 4 cron threads, 5 minutes: %d jobs for due times %s'
              % (len(jobs), ', '.join(due.strftime('%H:%M:%S') for due in dues)))
        self.assertGreaterEqual(len(jobs), 4, 'a job for each minute the servers ran')
        self.assertEqual(len(set(dues)), len(dues), 'never two jobs for one due time')
        self.assertNotIn(None, dues)
        # (a due time Odoo's cron threads poll more than a minute late is
        # skipped: doall = false)
        self.assertEqual(sorted(dues), dues)
        self.assertEqual(self.db.log_count('periodic-5min'), len(jobs), 'each ran once')

    def test_two_transactions_with_the_same_due_time_give_one_job(self):
        cron_id = self.make_cron('periodic same due', "model.chains_step('periodic-same')")
        self.due(cron_id, 5)

        def enqueue(barrier):  # as Odoo's cron thread calls it, in transactions begun together
            barrier.wait(10)
            with self.db.env() as env:
                env['ir.cron'].search([], limit=1)  # the snapshot
                env['ir.cron']._callback('periodic same due', 0, cron_id)
        self.assertEqual(in_threads(4, enqueue), [])
        self.assertEqual(len(self.jobs(cron_id)), 1)

    def test_a_failing_periodic_job_is_retried_like_any_job(self):
        cron_id = self.make_cron('periodic failing', "model.chains_cron_fail('periodic-fail')")
        self.due(cron_id, 0)
        ir_cron._acquire_job(self.db.name)
        with odoo_server.OdooServer(self.db.name, command=server_command(
                server_config('periodic-fail', threads=1), self.db.name)):
            wait_for(lambda: self.jobs(cron_id)[0][5] >= 2, 90, interval=0.2,
                     message='two retries of the failing periodic job: %s' % self.jobs(cron_id))
        (_due, _id, state, _started, _done, retry, message), = self.jobs(cron_id)
        self.assertEqual(state, 'pending', 'waiting for its next retry')
        self.assertIn('chains: periodic periodic-fail fails', message)
        self.assertEqual(self.db.log_count('periodic-fail'), 0, 'each attempt rolled back')
