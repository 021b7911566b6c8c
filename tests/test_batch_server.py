"""Batches in real Odoo server processes: the done method runs once, seconds
after the last job, also across a kill -9 and with two servers at once."""
import os
import subprocess
import unittest

import pytest

from odoo.addons.background_job.service.server import connect

from . import odoo_server
from .common import BatchHelpers, CommittedDatabase, server_command, server_config, wait_for

pytestmark = pytest.mark.server


class BatchServerCase(BatchHelpers, unittest.TestCase):

    def setUp(self):
        self.db = CommittedDatabase()
        self.addCleanup(self.db.drop)

    def server(self, config, log_name='odoo'):
        return odoo_server.OdooServer(self.db.name, command=server_command(config, self.db.name),
                                      log_name=log_name)

    def child_states(self, batch_id):
        return dict(self.db.query('SELECT state, count(*) FROM queue_job WHERE parent_id = %s '
                                  'GROUP BY state', (batch_id,)))

    def assert_done_method_ran_once(self, batch_id):
        """Once, and nothing left that could run it again: the batch is done
        and its one done job too."""
        batch = self.batch(batch_id)
        self.assertEqual((batch['state'], batch['done_job_state']), ('done', 'done'))
        self.assertEqual(len(self.done_jobs(batch_id)), 1)
        (call,) = self.done_calls(batch_id)
        self.assertEqual(call['unfinished'], 0)
        return call


class TestBatchOnAServer(BatchServerCase):

    def test_10000_ids_in_100_jobs_and_a_batch_with_failures_each_end_with_one_done_call(self):
        ids = self.make_records(10000)
        with self.db.env() as env:
            report_id = env[self.MODEL].create({'name': 'report'}).id
        big = self.start_batch(ids, 'big', job_size=100, job_res_id=report_id)
        failing_ids = self.make_records(100)
        self.db.query('UPDATE background_job_test_record SET value = -1 WHERE id = ANY(%s)',
                      ([failing_ids[5], failing_ids[55]],))
        failing = self.start_batch(failing_ids, 'failing', job_size=10)
        self.assertEqual(self.batch(big)['total'], 100)
        with self.server(server_config('batch-server', threads=4)):
            self.wait_batch_state(big, {'done'}, timeout=300)
            self.wait_batch_state(failing, {'done'}, timeout=120)
        call = self.assert_done_method_ran_once(big)
        self.assertEqual((call['res_id'], call['total'], call['done'], call['failed']),
                         (report_id, 100, 100, 0))
        self.assertEqual(self.db.log_count('big'), 100)
        (gap,) = self.db.query(
            "SELECT extract(epoch FROM done_job.date_started - max(child.date_done)) "
            "FROM queue_job child JOIN queue_job done_job ON done_job.id = %s "
            "WHERE child.parent_id = %s GROUP BY done_job.date_started",
            (self.batch(big)['done_job'], big))[0]
        self.assertLess(gap, 10, 'the done method should start seconds after the last job, '
                                 'not at the next cron run')
        call = self.assert_done_method_ran_once(failing)
        self.assertEqual((call['total'], call['done'], call['failed']), (10, 8, 2))
        self.assertEqual(self.batch(failing)['batch_state'], 'done_with_failures')

    def test_kill_9_in_the_middle_of_a_batch_then_restart_done_method_runs_once(self):
        batch_id = self.start_batch(self.make_records(240), 'killed', job_size=4, seconds=0.5)
        server = self.server(server_config('batch-kill', threads=4, dead_after=3))
        with server:
            wait_for(lambda: self.child_states(batch_id).get('done', 0) >= 12
                     and self.child_states(batch_id).get('started'), 120,
                     message='12 jobs of the batch done, others running')
            server.kill()
        states = self.child_states(batch_id)
        self.assertGreater(states.get('started', 0), 0,
                           'the kill should catch jobs mid-run: %s' % states)
        self.assertEqual(self.batch(batch_id)['state'], 'waiting')
        with server:
            self.wait_batch_state(batch_id, {'done'}, timeout=240)
        call = self.assert_done_method_ran_once(batch_id)
        self.assertEqual((call['total'], call['done']), (60, 60))
        self.assertEqual(self.db.log_count('killed'), 60)  # interrupted runs rolled back


class TestBatchesOnTwoServers(BatchServerCase):

    def test_two_servers_several_batches_each_done_method_once(self):
        config = server_config('batch-two-servers', threads=3)
        with self.server(config, 'odoo-1'), self.server(config, 'odoo-2'):
            batch_ids = [self.start_batch(self.make_records(40), 'two-%d' % n, job_size=2,
                                          seconds=0.05) for n in range(6)]
            for batch_id in batch_ids:
                self.wait_batch_state(batch_id, {'done'}, timeout=240)
        for batch_id in batch_ids:
            call = self.assert_done_method_ran_once(batch_id)
            self.assertEqual((call['total'], call['done']), (20, 20))
        workers = self.db.query('SELECT count(DISTINCT worker_id) FROM queue_job '
                                'WHERE parent_id = ANY(%s)', (batch_ids,))[0][0]
        self.assertEqual(workers, 2, 'both servers should have run jobs of the batches')


class TestDemo(unittest.TestCase):

    def test_make_run_demo_data_runs_a_batch_live_then_the_done_method_writes_a_summary(self):
        """Built as `make run` builds its database (scripts/ensure_db.py --demo)."""
        name = '%s%d_0' % (odoo_server.CLONE_PREFIX, os.getpid())
        self.addCleanup(odoo_server.drop_database, name + '_template')
        self.addCleanup(odoo_server.drop_database, name)
        subprocess.run([os.path.join(odoo_server.BIN, 'python'), 'scripts/ensure_db.py',
                        name, '--demo'], cwd=odoo_server.ROOT, check=True, timeout=900,
                       stdout=subprocess.DEVNULL)

        def query(statement):
            connection = connect(name)
            try:
                with connection, connection.cursor() as cr:
                    cr.execute(statement)
                    return cr.fetchall()
            finally:
                connection.close()

        children = "SELECT state FROM queue_job WHERE parent_id = (SELECT id FROM queue_job WHERE is_batch)"
        self.assertEqual([state for (state,) in query(children)], ['pending'] * 4)
        seen = set()
        with odoo_server.OdooServer(name):
            wait_for(lambda: seen.update(state for (state,) in query(children))
                     or query('SELECT summary FROM background_job_demo_report')[0][0], 180,
                     interval=0.2, message='the demo report summary')
        self.assertIn('started', seen, 'the jobs take long enough to be watched running')
        self.assertEqual(query('SELECT summary FROM background_job_demo_report'),
                         [('15 invoices matched by 4 jobs (4 done, 0 failed).',)])
