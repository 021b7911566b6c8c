"""Connections: a threaded server serving many databases keeps Odoo's pool
for HTTP, and idle databases cost one connection each (README, Workers)."""
import http.cookiejar
import os
import time
import urllib.request
import unittest

import pytest

from odoo.addons.background_job.service.server import connect

from . import odoo_server
from .common import enqueue_by_sql, server_config, wait_for
from .jsonrpc import JsonRpcSession

pytestmark = pytest.mark.server

# 16 by default (the case); fewer to look at the old code without
# taking much of a shared PostgreSQL's max_connections.
DATABASES = int(os.environ.get('BACKGROUND_JOB_CONNECTION_TEST_DATABASES', 16))
DB_MAXCONN = 8  # Odoo's pool, for HTTP and crons


def enqueue_noops(dbname, count):
    connection = connect(dbname)
    try:
        return enqueue_by_sql(connection, 'noop', [()] * count)
    finally:
        connection.close()


def count_connections(names):
    """(engine connections, all connections) to the databases ``names``."""
    connection = odoo_server.ensure_db.connect_maintenance()
    try:
        with connection.cursor() as cr:
            cr.execute("SELECT count(*) FILTER (WHERE application_name = 'background_job'), "
                       "count(*) FROM pg_stat_activity WHERE datname = ANY(%s)", (names,))
            return cr.fetchone()
    finally:
        connection.close()


class TestManyDatabases(unittest.TestCase):

    def setUp(self):
        self.names = []
        for _ in range(DATABASES):
            self.names.append(odoo_server.clone_database())
            self.addCleanup(odoo_server.drop_database, self.names[-1])

    def pending(self):
        left = 0
        for name in self.names:
            connection = connect(name)
            try:
                with connection.cursor() as cr:
                    cr.execute("SELECT count(*) FROM queue_job WHERE state <> 'done'")
                    left += cr.fetchone()[0]
            finally:
                connection.close()
        return left

    def test_a_server_serving_16_databases_answers_http_and_idles_on_one_connection_each(self):
        for name in self.names:
            enqueue_noops(name, 3)
        # one job thread each: while all 16 are busy at once they take 16 x 3
        # connections, well within a default max_connections of 100
        config = server_config('many-databases', threads=1, idle_close=2,
                               databases=','.join(self.names), database_refresh=3600)
        first, second = self.names[:2]
        command = [odoo_server.ODOO, '-c', config, '-d', first,
                   '--db-filter=^(%s|%s)$' % (first, second),
                   '--max-cron-threads=0', '--db_maxconn=%d' % DB_MAXCONN]
        with odoo_server.OdooServer(first, command=command, timeout=180) as server:
            wait_for(lambda: self.pending() == 0, 300, interval=1,
                     message='the jobs of all %d databases done' % DATABASES)
            time.sleep(2 + 2)  # idle_close, and a claim's wait
            samples = []
            for _ in range(6):
                samples.append(count_connections(self.names))
                time.sleep(0.5)
            browser = urllib.request.build_opener(  # keeps the session cookie
                urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
            with browser.open(server.url('/web/login?db=%s' % second), timeout=60) as page:
                self.assertEqual(page.status, 200)
                self.assertIn('name="login"', page.read().decode())
            session = JsonRpcSession(server, 'admin', 'admin')
            self.assertGreater(session.call_kw('res.partner', 'search_count', [[]]), 0)
            samples.append(count_connections(self.names))
            # an idle database still starts a new job at once
            started = time.monotonic()
            enqueue_noops(self.names[-1], 1)
            wait_for(lambda: self.pending() == 0, 30, interval=0.2, message='the new job done')
            self.assertLess(time.monotonic() - started, 10)
            log = server.log_text()
        # README (Workers): one connection per idle database and process
        # (the control thread's), plus a short-lived one at times
        self.assertLessEqual(max(engine for engine, _ in samples), DATABASES + 2, samples)
        self.assertLessEqual(max(total for _, total in samples), DATABASES + 2 + DB_MAXCONN,
                             samples)
        self.assertNotIn('PoolError', log)
        self.assertNotIn('Connection Pool Is Full', log)
