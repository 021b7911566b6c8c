"""Chains and groups on two real Odoo servers: each step starts only once
the one before committed done, a group's callback runs once after all its
members, a failure cancels what waits for it and a requeue revives it; and
in committed transactions: a rolled-back caller leaves no job, a job of
another database is refused."""
import json
import statistics
import unittest

import odoo
import pytest
from odoo import SUPERUSER_ID, api

from odoo.addons.background_job import chain, group

from . import odoo_server
from .common import CommittedDatabase, as_datetime, server_command, server_config, wait_for

pytestmark = pytest.mark.server

MODEL = 'background.job.test.record'


_time = as_datetime


class ChainsServerCase(unittest.TestCase):

    def setUp(self):
        self.db = CommittedDatabase()
        self.addCleanup(self.db.drop)
        with self.db.env() as env:
            self.record_id = env[MODEL].create({'name': 'chains'}).id

    def servers(self, name, threads=2):
        config = server_config(name, threads=threads)
        return [odoo_server.OdooServer(self.db.name, log_name='odoo-%d' % n,
                                       command=server_command(config, self.db.name))
                for n in (1, 2)]

    def steps(self, marker_like):
        """{marker: {step: (info, job's date_started, date_done, worker)}}."""
        rows = self.db.query(
            "SELECT log.marker, log.info, job.date_started, job.date_done, job.worker_id "
            "FROM background_job_test_log log JOIN queue_job job "
            "  ON job.id = (log.info::json->>'job_id')::integer "
            "WHERE log.marker LIKE %s", (marker_like,))
        result = {}
        for marker, info, started, done, worker in rows:
            info = json.loads(info)
            result.setdefault(marker, {}).setdefault(info['step'], []).append(
                (info, _time(started), _time(done), worker))
        return result

    def wait_states(self, marker_like, states, count, timeout):
        query = ("SELECT count(*) FROM queue_job WHERE args LIKE %s AND state = ANY(%s)")
        wait_for(lambda: self.db.query(query, (marker_like, list(states)))[0][0] == count,
                 timeout, interval=0.2, message='%d jobs %s in %s: %s' % (
                     count, states, marker_like, self.db.states(marker_like)))


class TestChainsOnTwoServers(ChainsServerCase):

    def test_200_chains_of_3_each_step_starts_after_the_previous_committed_done(self):
        servers = self.servers('chains-200')
        with servers[0], servers[1]:
            with self.db.env() as env:
                record = env[MODEL].browse(self.record_id)
                for n in range(200):
                    marker = 'chain-%03d' % n
                    chain(*[record.delayable().chains_step(marker, step=step, seconds=0.005)
                            for step in 'abc']).delay()
            self.wait_states('%"chain-%', {'done'}, 600, timeout=300)
        chains = self.steps('chain-%')
        self.assertEqual(len(chains), 200)
        latencies, across = [], 0
        for marker, steps in chains.items():
            self.assertEqual(sorted(steps), ['a', 'b', 'c'])
            self.assertTrue(all(len(runs) == 1 for runs in steps.values()), marker)
            (a,), (b,), (c,) = steps['a'], steps['b'], steps['c']
            # each step saw the steps before it committed, and started after their done
            self.assertEqual([a[0]['seen'], b[0]['seen'], c[0]['seen']], [[], ['a'], ['a', 'b']])
            self.assertGreaterEqual(b[1], a[2])
            self.assertGreaterEqual(c[1], b[2])
            latencies += [(b[1] - _time(a[0]['at'])).total_seconds(),
                          (c[1] - _time(b[0]['at'])).total_seconds()]
            across += (a[3] != b[3]) + (b[3] != c[3])
        self.assertGreater(across, 0, 'steps of a chain should run on both servers')
        median = statistics.median(latencies)
        print('chain step start after the previous step ran: median %.1f ms, p99 %.1f ms, '
              'max %.1f ms; %d of 400 hand-overs across servers'
              % (median * 1000, sorted(latencies)[int(len(latencies) * 0.99)] * 1000,
                 max(latencies) * 1000, across))
        self.assertLess(median, 0.25, 'no polling delay: the next step starts at once')

    def test_group_callbacks_run_once_after_all_members_and_failures_cancel_then_requeue_revives(self):
        servers = self.servers('chains-groups')
        with self.db.env() as env:
            env[MODEL].browse(self.record_id).value = -1  # chains_fail_unless_fixed fails
        with servers[0], servers[1]:
            with self.db.env() as env:
                record = env[MODEL].browse(self.record_id)
                for n in range(40):
                    marker = 'group-%02d' % n
                    group(*[record.delayable().chains_step(marker, step=str(m), seconds=0.02)
                            for m in range(4)]).on_done(
                        record.delayable().chains_step(marker, step='callback')).delay()
                failing = record.delayable().chains_fail_unless_fixed('failing')
                then = record.delayable().chains_step('failing', step='then')
                last = record.delayable().chains_step('failing', step='last')
                chain(failing, then, last).delay()
                failing_id, then_id, last_id = failing.job.id, then.job.id, last.job.id
            self.wait_states('%"group-%', {'done'}, 200, timeout=240)
            wait_for(lambda: self.job_states(then_id, last_id) == ['cancelled', 'cancelled'],
                     60, message='the dependents of the failed job cancelled')
            self.assertEqual(self.job_states(failing_id), ['failed'])
            self.assertEqual(self.db.query('SELECT exc_message FROM queue_job WHERE id = %s',
                                           (then_id,))[0][0], 'dependency %d failed' % failing_id)
            with self.db.env() as env:
                env[MODEL].browse(self.record_id).value = 0
                env['queue.job'].browse(failing_id).requeue()
                self.assertEqual(self.job_states(then_id, last_id, env=env), ['waiting', 'waiting'])
            wait_for(lambda: self.job_states(failing_id, then_id, last_id) == ['done'] * 3, 60,
                     message='the requeued chain done')
        groups = self.steps('group-%')
        self.assertEqual(len(groups), 40)
        for marker, steps in groups.items():
            self.assertEqual(len(steps['callback']), 1, '%s: callback once' % marker)
            (callback,) = steps['callback']
            self.assertEqual(callback[0]['seen'], ['0', '1', '2', '3'])
            self.assertGreaterEqual(callback[1], max(run[2] for m in '0123' for run in steps[m]))
            # at once, also when the last members ended together (not at the cron's next run)
            last_member = max(_time(run[0]['at']) for m in '0123' for run in steps[m])
            self.assertLess((callback[1] - last_member).total_seconds(), 5, marker)
        failing = self.steps('failing')['failing']
        self.assertEqual([len(failing[step]) for step in ('fixed', 'then', 'last')], [1, 1, 1])
        self.assertEqual(failing['last'][0][0]['seen'], ['fixed', 'then'])

    def job_states(self, *job_ids, env=None):
        if env is not None:
            env.cr.execute('SELECT id, state FROM queue_job WHERE id = ANY(%s)', (list(job_ids),))
            rows = dict(env.cr.fetchall())
        else:
            rows = dict(self.db.query('SELECT id, state FROM queue_job WHERE id = ANY(%s)',
                                      (list(job_ids),)))
        return [rows.get(job_id) for job_id in job_ids]


class TestCommittedCalls(ChainsServerCase):

    def test_a_rolled_back_caller_leaves_no_job_and_another_database_is_refused(self):
        with self.assertRaisesRegex(RuntimeError, 'caller fails'):
            with self.db.env() as env:
                record = env[MODEL].browse(self.record_id)
                chain(record.delayable().chains_step('rolled-back', step='a'),
                      record.delayable().chains_step('rolled-back', step='b')).delay()
                env.cr.execute('SELECT count(*) FROM queue_job_dependency')
                self.assertEqual(env.cr.fetchone()[0], 1)
                raise RuntimeError('caller fails')
        self.assertEqual(self.db.query("SELECT count(*) FROM queue_job"), [(0,)])
        self.assertEqual(self.db.query("SELECT count(*) FROM queue_job_dependency"), [(0,)])
        other = odoo.registry(odoo_server.TEST_DB)
        with self.db.env() as env, api.Environment.manage(), other.cursor() as other_cr:
            here = env[MODEL].browse(self.record_id).delayable().chains_step('x', step='here')
            other_env = api.Environment(other_cr, SUPERUSER_ID, {})
            there = other_env[MODEL].create({'name': 'there'}).delayable().chains_step(
                'x', step='there')
            with self.assertRaisesRegex(ValueError, "on database '%s'.*its own database"
                                        % odoo_server.TEST_DB):
                here.on_done(there).delay()
            other_cr.rollback()
        self.assertEqual(self.db.query("SELECT count(*) FROM queue_job"), [(0,)])
