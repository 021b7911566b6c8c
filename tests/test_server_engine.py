"""The engine in real Odoo server processes: crashes, several workers,
prefork and the standalone queue-worker command."""
import configparser
import os
import signal
import subprocess
import threading
import time
import unittest

import psycopg2
import pytest

from . import odoo_server
from .common import CommittedDatabase, server_command, server_config, wait_for

pytestmark = pytest.mark.server


def queue_worker(config, db, log_name='queue-worker', wrapper=(), args=()):
    """Start ``odoo queue-worker`` (workers only, no HTTP); ``wrapper``: a
    command that runs it (e.g. in a network namespace); ``args``: more
    options (``--processes 2``)."""
    parser = configparser.ConfigParser()
    parser.read(config)
    log = open(os.path.join(odoo_server.test_output_dir(), log_name + '.log'), 'ab')
    return subprocess.Popen(
        list(wrapper) + [odoo_server.ODOO, '--addons-path=' + parser['options']['addons_path'],
                         'queue-worker', '-c', config, '-d', db] + list(args),
        cwd=odoo_server.ROOT, stdin=subprocess.DEVNULL, stdout=log,
        stderr=subprocess.STDOUT, preexec_fn=os.setsid)


def end(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


class ServerCase(unittest.TestCase):

    def setUp(self):
        self.db = CommittedDatabase()
        self.addCleanup(self.db.drop)

    def enqueue(self, method, count, *args, prefix='m'):
        with self.db.env() as env:
            record = env['background.job.test.record'].create({'name': 'server'})
            for n in range(count):
                getattr(record, method).delay('%s-%d' % (prefix, n), *args)

    def markers_logged(self, prefix='m'):
        return dict(self.db.query(
            "SELECT marker, count(*) FROM background_job_test_log WHERE marker LIKE %s "
            "GROUP BY marker", (prefix + '-%',)))

    def states(self):
        return dict(self.db.query('SELECT state, count(*) FROM queue_job GROUP BY state'))

    def engine_sessions(self):
        """Sessions of the engine and of jobs (every process) on the
        database, but the one asking."""
        return self.db.query("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                             "AND application_name = 'background_job' "
                             "AND pid <> pg_backend_pid()", (self.db.name,))[0][0]


class TestCrashRecovery(ServerCase):

    def test_kill_9_while_jobs_run_then_restart_every_job_done_exactly_once(self):
        self.enqueue('sleep_and_log', 200, 0.1)
        config = server_config('fast-recovery', threads=4, dead_after=3)
        server = odoo_server.OdooServer(self.db.name, command=server_command(config, self.db.name))
        # its jobs run before its HTTP answers: on a loaded machine all 200
        # could be done by then
        server.start(wait_ready=False)
        try:
            wait_for(lambda: self.states().get('done', 0) >= 20, 120, message='20 jobs done')
        finally:
            server.kill()
        interrupted = self.states().get('started', 0)
        self.assertGreater(interrupted, 0, 'the kill should catch jobs mid-run')
        self.assertLess(self.states().get('done', 0), 200)
        with server:
            wait_for(lambda: self.states() == {'done': 200}, 180,
                     message='all 200 jobs done after restart')
        logged = self.markers_logged()
        self.assertEqual(len(logged), 200)
        self.assertEqual(set(logged.values()), {1}, 'a job inserted its row twice')
        retried = self.db.query("SELECT count(*) FROM queue_job WHERE retry > 0")[0][0]
        self.assertEqual(retried, interrupted, 'each interrupted job counts one retry')


class TestSeveralWorkers(ServerCase):

    def test_two_worker_processes_run_2000_jobs_once_within_channel_capacity(self):
        self.db.query("INSERT INTO queue_job_channel (name, capacity) VALUES ('root.narrow', 2) "
                      "ON CONFLICT (name) DO UPDATE SET capacity = 2")
        self.db.query("UPDATE queue_job_channel SET capacity = 3 WHERE name = 'root'")
        config = server_config('two-workers', threads=4)
        samples, stop = [], threading.Event()

        def sample():
            while not stop.is_set():
                samples.append(dict(self.db.query(
                    "SELECT channel, count(*) FROM queue_job WHERE state = 'started' "
                    "GROUP BY channel")))
                time.sleep(0.005)

        worker = queue_worker(config, self.db.name)
        sampler = threading.Thread(target=sample, daemon=True)
        try:
            with odoo_server.OdooServer(self.db.name, command=server_command(config, self.db.name)):
                wait_for(lambda: self.db.query(
                    'SELECT count(*) FROM queue_job_worker WHERE date_stopped IS NULL')[0][0] == 2,
                    120, message='both worker processes registered')
                sampler.start()
                self.enqueue('log_run', 1700, prefix='m')
                self.enqueue('narrow_channel', 300, 0.02, prefix='m-narrow')
                wait_for(lambda: self.states() == {'done': 2000}, 300, interval=0.2,
                         message='2,000 jobs done')
        finally:
            stop.set()
            end(worker)
        logged = self.markers_logged()
        self.assertEqual(len(logged), 2000)
        self.assertEqual(set(logged.values()), {1}, 'a job ran twice')
        workers = self.db.query("SELECT count(DISTINCT worker_id) FROM queue_job")[0][0]
        self.assertEqual(workers, 2, 'both processes should have run jobs')
        self.assertGreater(len(samples), 20)
        self.assertLessEqual(max(s.get('root.narrow', 0) for s in samples), 2)
        self.assertLessEqual(max(s.get('root', 0) for s in samples), 3)
        self.assertEqual(max(s.get('root.narrow', 0) for s in samples), 2,
                         'the narrow channel should have been full at times')


class TestPrefork(ServerCase):

    def test_prefork_server_runs_jobs_in_its_job_process_not_http_workers(self):
        self.enqueue('log_pid', 20, prefix='pid')
        with odoo_server.OdooServer(self.db.name, '--workers=2') as server:
            wait_for(lambda: self.states() == {'done': 20}, 120, message='20 jobs done')
            status, _ = server.get('/web/login')
            self.assertEqual(status, 200)
            worker_pids = {row[0] for row in self.db.query('SELECT pid FROM queue_job_worker')}
            job_pids = {int(row[0]) for row in self.db.query(
                "SELECT info FROM background_job_test_log WHERE marker LIKE 'pid-%'")}
            self.assertEqual(len(worker_pids), 1)
            self.assertEqual(job_pids, worker_pids)
            self.assertNotEqual(job_pids, {server.pid})  # not the arbiter


class TestDatabaseDiscovery(unittest.TestCase):

    def test_queue_worker_serves_a_database_created_after_it_started(self):
        prefix = 'bj_srv_%d_pickup_' % os.getpid()
        config = server_config('discovery', database_refresh=1)
        parser = configparser.ConfigParser()
        parser.read(config)
        parser['options']['db_name'] = ''
        parser['options']['dbfilter'] = '^%s' % prefix
        with open(config, 'w') as handle:
            parser.write(handle)
        first = odoo_server.clone_database(name=prefix + 'a')
        self.addCleanup(odoo_server.drop_database, first)
        worker = queue_worker_all(config)
        try:
            wait_for(lambda: registered_workers(first) == 1, 120, message='first database served')
            second = odoo_server.clone_database(name=prefix + 'b')
            self.addCleanup(odoo_server.drop_database, second)
            wait_for(lambda: registered_workers(second) == 1, 60,
                     message='database created later served')
        finally:
            end(worker)


def queue_worker_all(config):
    """``odoo queue-worker -c config`` without -d: every matching database."""
    parser = configparser.ConfigParser()
    parser.read(config)
    log = open(os.path.join(odoo_server.test_output_dir(), 'queue-worker.log'), 'ab')
    return subprocess.Popen(
        [odoo_server.ODOO, '--addons-path=' + parser['options']['addons_path'],
         'queue-worker', '-c', config],
        cwd=odoo_server.ROOT, stdin=subprocess.DEVNULL, stdout=log,
        stderr=subprocess.STDOUT, preexec_fn=os.setsid)


def registered_workers(dbname):
    connection = psycopg2.connect(dbname=dbname, **odoo_server.ensure_db.db_params())
    try:
        with connection.cursor() as cr:
            cr.execute('SELECT count(*) FROM queue_job_worker WHERE date_stopped IS NULL')
            return cr.fetchone()[0]
    finally:
        connection.close()
