"""Hung jobs and Stop, in real Odoo server processes: jobs that hang (pure
Python, time.sleep, a socket read that never returns, SQL) are ended at
their 2 s limit and the server keeps its threads; a running job is stopped
from another process, on whichever of two servers runs it; a batch with a
stopped job still runs its done method once."""
import os
import socket
import time
import unittest

import pytest

from odoo import SUPERUSER_ID

from . import odoo_server
from .common import (
    BatchHelpers, CommittedDatabase, create_manager, server_command, server_config, wait_for,
)
from .test_server_engine import end, queue_worker

pytestmark = pytest.mark.server

MODEL = 'background.job.test.record'
HUNG = ('limits_python_loop', 'limits_sleep', 'limits_socket_read', 'limits_sql_sleep')


class LimitsCase(unittest.TestCase):

    def delay(self, method, *args, uid=SUPERUSER_ID, **options):
        with self.db.env(uid) as env:
            record = env[MODEL].create({'name': method})
            return getattr(record.with_delay(**options), method)(*args).id

    def jobs(self, job_ids):
        """{id: row} of these jobs."""
        keys = ('id', 'state', 'retry', 'exc_type', 'exc_message', 'exc_info', 'worker_id')
        return {row[0]: dict(zip(keys, row)) for row in self.db.query(
            'SELECT %s FROM queue_job WHERE id = ANY(%%s)' % ', '.join(keys), (list(job_ids),))}

    def states_of(self, job_ids):
        return [row['state'] for row in self.jobs(job_ids).values()]

    def logged(self, pattern):
        return self.db.query("SELECT count(*) FROM background_job_test_log WHERE marker LIKE %s",
                             (pattern,))[0][0]


class TestHungJobs(LimitsCase):

    def setUp(self):
        self.db = CommittedDatabase()
        self.addCleanup(self.db.drop)

    def test_hung_jobs_end_at_their_limit_and_the_server_keeps_its_threads(self):
        silent = socket.socket()  # accepts connections (backlog), never answers
        silent.bind(('127.0.0.1', 0))
        silent.listen(8)
        self.addCleanup(silent.close)
        config = server_config('hung', threads=4)
        with odoo_server.OdooServer(self.db.name, command=server_command(config, self.db.name)) \
                as server:
            hung = [self.delay(method, 'hung-%s' % method, *(
                [silent.getsockname()[1]] if method == 'limits_socket_read' else []))
                for method in HUNG]
            wait_for(lambda: self.states_of(hung) == ['started'] * 4, 60, interval=0.1,
                     message='the 4 hung jobs running')
            hung_at = time.monotonic()
            with self.db.env() as env:
                record = env[MODEL].create({'name': 'after'})
                after = [record.log_run.delay('after-%d' % n).id for n in range(50)]
            enqueued_at = time.monotonic()
            wait_for(lambda: 'started' not in self.states_of(hung), 10, interval=0.1,
                     message='every hung job left started within 10 s')
            left_after = time.monotonic() - hung_at
            wait_for(lambda: self.states_of(after) == ['done'] * 50, 20, interval=0.1,
                     message='the 50 jobs enqueued after them done within 20 s')
            all_done_after = time.monotonic() - enqueued_at
            # the threads blocked in C code (sleep, socket) are replaced a
            # few seconds after the limit; then the server has 4 working
            # threads again: 4 jobs of 2 s run side by side
            wait_for(lambda: server.log_text().count('abandoned, a new job thread replaces it')
                     == 2, 10, interval=0.1, message='2 stuck threads replaced')
            with self.db.env() as env:
                record = env[MODEL].create({'name': 'parallel'})
                parallel = [record.sleep_and_log.delay('parallel-%d' % n, 2).id for n in range(4)]
            wait_for(lambda: self.states_of(parallel) == ['done'] * 4, 30, interval=0.1,
                     message='4 parallel jobs done')
            spread = self.db.query('SELECT max(date_started) - min(date_started) FROM queue_job '
                                   'WHERE id = ANY(%s)', (parallel,))[0][0]
            log = server.log_text()
        print('hung jobs left started within %.1f s of the last one starting; the 50 jobs '
              'after them were done %.1f s after being enqueued' % (left_after, all_done_after))
        self.assertLess(spread.total_seconds(), 1.5, 'the 4 jobs ran side by side')
        for job_id, row in self.jobs(hung).items():
            self.assertEqual((row['state'], row['retry'], row['exc_type'], row['exc_message']),
                             ('pending', 1, 'JobTimeoutError', 'ran longer than 2 s'), row)
        tracebacks = ' '.join(row['exc_info'] for row in self.jobs(hung).values())
        for method in HUNG:
            self.assertIn('in %s' % method, tracebacks, 'where the job was')
        self.assertIn('peer.recv(1)', tracebacks)
        self.assertEqual(self.logged('hung-%'), 0, 'nothing of a timed-out attempt commits')
        self.assertEqual(log.count('abandoned, a new job thread replaces it'), 2)
        self.assertNotIn('restart this server', log, '2 stuck threads of 4: no alarm')


    def test_a_queue_worker_whose_threads_are_all_stuck_restarts_itself(self):
        config = server_config('restart', threads=2)
        worker = queue_worker(config, self.db.name)
        self.addCleanup(end, worker)
        log = os.path.join(odoo_server.test_output_dir(), 'queue-worker.log')
        stuck = [self.delay('limits_sleep', 'restart-%d' % n) for n in range(2)]
        wait_for(lambda: self.db.query('SELECT count(*) FROM queue_job_worker')[0][0] == 2, 60,
                 interval=0.2, message='a second worker row: the process started afresh')
        rows = self.db.query('SELECT pid, date_stopped IS NOT NULL FROM queue_job_worker '
                             'ORDER BY id')
        self.assertEqual([row[0] for row in rows], [worker.pid] * 2, 're-executed in place')
        self.assertEqual([row[1] for row in rows], [True, False], 'the first one unregistered')
        after = self.delay('log_run', 'after-restart')
        wait_for(lambda: self.states_of([after]) == ['done'], 60, message='served again')
        self.assertEqual(set(self.states_of(stuck)), {'pending'})
        with open(log) as handle:
            self.assertIn('queue-worker restarts itself', handle.read())


class TestStop(LimitsCase, BatchHelpers):
    """A threaded server and an ``odoo queue-worker``, 2 threads each."""

    @classmethod
    def setUpClass(cls):
        cls.db = CommittedDatabase()
        try:
            with cls.db.env() as env:
                cls.manager = create_manager(env, 'Stop Manager', 'limits_stop_manager').id
            config = server_config('stop', threads=2)
            cls.server = odoo_server.OdooServer(
                cls.db.name, command=server_command(config, cls.db.name), name='TestStop').start()
            cls.worker = queue_worker(config, cls.db.name)
            wait_for(lambda: cls.db.query('SELECT count(*) FROM queue_job_worker '
                                          'WHERE date_stopped IS NULL')[0][0] == 2, 120,
                     message='both servers registered')
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, 'worker', None):
            end(cls.worker)
        if getattr(cls, 'server', None):
            cls.server.stop()
        cls.db.drop()

    def stop_jobs(self, job_ids):
        """Stop from this process, as the manager; returns when committed."""
        with self.db.env(self.manager) as env:
            env['queue.job'].browse(job_ids).stop()
        return time.monotonic()

    def test_a_running_job_is_stopped_within_2_s_from_another_process(self):
        seen = os.path.join(odoo_server.test_output_dir(), 'stop-seen')
        polite = self.delay('limits_until_stopped', 'stop-polite', seen)
        deaf = self.delay('limits_deaf_sleep', 'stop-deaf')
        wait_for(lambda: self.states_of([polite, deaf]) == ['started'] * 2, 60, interval=0.05,
                 message='both running')
        stopped_at = self.stop_jobs([polite, deaf])
        wait_for(lambda: set(self.states_of([polite, deaf])) == {'cancelled'}, 10,
                 interval=0.02, message='both cancelled')
        took = time.monotonic() - stopped_at
        print('stopped (cancelled) %.2f s after stop() committed' % took)
        self.assertLess(took, 2.0)
        for row in self.jobs([polite, deaf]).values():
            self.assertEqual((row['state'], row['retry'], row['exc_type'], row['exc_message']),
                             ('cancelled', 0, 'JobStoppedError', 'stopped by Stop Manager'))
        self.assertEqual(self.logged('stop-%'), 0, 'their work was rolled back')
        with open(seen) as handle:
            self.assertEqual(handle.read(), 'stop requested', 'stop_requested() seen by the job')
        time.sleep(3)  # stopped jobs are never retried
        self.assertEqual(set(self.states_of([polite, deaf])), {'cancelled'})

    def test_jobs_running_on_either_server_are_stopped(self):
        jobs = [self.delay('limits_deaf_sleep', 'either-%d' % n) for n in range(4)]
        wait_for(lambda: self.states_of(jobs) == ['started'] * 4, 60, interval=0.05,
                 message='4 running on the 2 servers')
        workers = {row['worker_id'] for row in self.jobs(jobs).values()}
        self.assertEqual(len(workers), 2, 'both servers run some')
        stopped_at = self.stop_jobs(jobs)
        wait_for(lambda: set(self.states_of(jobs)) == {'cancelled'}, 10, interval=0.02,
                 message='all 4 cancelled')
        self.assertLess(time.monotonic() - stopped_at, 2.0)
        # the stuck threads were replaced: both servers run jobs again
        later = [self.delay('log_run', 'after-stop-%d' % n) for n in range(8)]
        wait_for(lambda: self.states_of(later) == ['done'] * 8, 30, message='jobs run again')

    def test_a_batch_with_a_stopped_job_runs_its_done_method_once(self):
        ids = self.make_records(3)
        self.db.query('UPDATE background_job_test_record SET value = 1 WHERE id = %s', (ids[0],))
        with self.db.env() as env:
            batch_id = env['queue.job'].batch_execute_job(
                MODEL, 'limits_chunk', ids, args=('stopped-batch',), job_size=1,
                done_method=self.DONE).id
        stuck = self.db.query("SELECT id FROM queue_job WHERE parent_id = %s "
                              "AND record_ids = %s", (batch_id, '[%d]' % ids[0]))[0][0]
        wait_for(lambda: self.states_of([stuck]) == ['started'], 60, message='chunk running')
        self.stop_jobs([stuck])
        self.wait_batch_state(batch_id, {'done'}, timeout=60)
        time.sleep(1)
        calls = self.done_calls(batch_id)
        self.assertEqual(len(calls), 1, 'the done method ran once')
        self.assertEqual((calls[0]['total'], calls[0]['done'], calls[0]['unfinished']), (3, 2, 0))
        self.assertEqual(self.states_of([stuck]), ['cancelled'])

    def test_a_user_stops_their_own_running_job_but_not_others(self):
        with self.db.env() as env:
            user = env['res.users'].create({
                'name': 'Stop User', 'login': 'limits_stop_user',
                'groups_id': [(6, 0, [env.ref('base.group_user').id])]}).id
        own = self.delay('limits_deaf_sleep', 'own', uid=user)
        other = self.delay('limits_deaf_sleep', 'other')
        wait_for(lambda: self.states_of([own, other]) == ['started'] * 2, 60, message='running')
        from odoo.exceptions import AccessError
        with self.assertRaises(AccessError):
            with self.db.env(user) as env:
                env['queue.job'].browse(other).stop()
        with self.db.env(user) as env:
            env['queue.job'].browse(own).stop()
        wait_for(lambda: self.states_of([own]) == ['cancelled'], 10, message='own stopped')
        self.assertEqual(self.jobs([own])[own]['exc_message'], 'stopped by Stop User')
        self.stop_jobs([other])
        wait_for(lambda: self.states_of([other]) == ['cancelled'], 10, message='other stopped')
