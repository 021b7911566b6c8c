"""PostgreSQL restarted mid-run (pg_ctl restart -m fast, on a throwaway
cluster: tests/pg_cluster.py): the server's workers reconnect with backoff,
log the outage once, and every job ends done exactly once."""
import re
import time
import unittest

import pytest

from . import odoo_server, pg_cluster
from .common import enqueue_by_sql, query_once, server_command, wait_for

pytestmark = pytest.mark.server

JOBS = 500


class ClusterCase(unittest.TestCase):
    """A database of its own on the shared throwaway cluster."""

    def setUp(self):
        self.cluster = pg_cluster.shared()
        self.dbname = self.cluster.clone()

    def query(self, statement, params=None):
        return query_once(self.cluster.connect(self.dbname), statement, params)

    def enqueue(self, method, calls):
        connection = self.cluster.connect(self.dbname)
        try:
            return enqueue_by_sql(connection, method, calls)
        finally:
            connection.close()

    def states(self):
        return dict(self.query('SELECT state, count(*) FROM queue_job GROUP BY state'))

    def markers_logged(self, prefix):
        return dict(self.query("SELECT marker, count(*) FROM background_job_test_log "
                               "WHERE marker LIKE %s GROUP BY marker", (prefix + '-%',)))


class TestPostgresqlRestart(ClusterCase):

    def test_postgresql_restarted_mid_run_every_job_done_exactly_once(self):
        # 0.1 s each: 4 threads take 12 s, jobs run across the restart
        self.enqueue('faults_log_then_sleep', [('faults-restart-%d' % n, 0.1)
                                               for n in range(JOBS)])
        config = self.cluster.odoo_config('restart', threads=4)
        command = server_command(config, self.dbname) + ['--max-cron-threads=0']
        server = odoo_server.OdooServer(self.dbname, command=command)
        try:
            server.start(wait_ready=False)  # its jobs start before its HTTP
            wait_for(lambda: self.states().get('done', 0) >= JOBS // 5, 120, interval=0.05,
                     message='a fifth of the jobs done')
            before = self.states().get('done', 0)
            restart_began = time.monotonic()
            self.cluster.restart()
            restarted = time.monotonic()
            wait_for(lambda: self.states().get('done', 0) > before, 60, interval=0.05,
                     message='jobs done again after the restart')
            recovered = time.monotonic()
            wait_for(lambda: self.states() == {'done': JOBS}, 120, interval=0.2,
                     message='all %d jobs done' % JOBS)
        finally:
            server.stop()
        log = server.log_text()
        logged = self.markers_logged('faults-restart')
        self.assertEqual(len(logged), JOBS, 'a job is lost')
        self.assertEqual(set(logged.values()), {1}, 'a job ran twice')
        self.assertEqual(len(re.findall(r' WARNING .*lost its connections to', log)), 1)
        self.assertEqual(len(re.findall(r' INFO .*reconnected to', log)), 1)
        self.assertNotIn('Traceback', log)
        retried = self.query('SELECT count(*) FROM queue_job WHERE retry > 0')[0][0]
        print('\n[faults] PostgreSQL restarted (pg_ctl restart -m fast, %.1f s) during %d jobs '
              '(%d done before): jobs done again %.1f s after it was back, %d interrupted jobs '
              'run again, 0 lost, 0 run twice' % (restarted - restart_began, JOBS, before,
                                                  recovered - restarted, retried))
