"""``GET /background_job/metrics`` on a real Odoo server, and ``odoo
queue-worker --health`` against a real queue-worker process."""
import datetime
import os
import re
import signal
import subprocess
import sys
import unittest
import urllib.error
import urllib.request

import pytest

from . import odoo_server
from .common import CommittedDatabase, running, server_command, server_config, wait_for
from .test_server_engine import end, queue_worker

pytestmark = pytest.mark.server

TOKEN = 'scrape-me-7f3a'
SAMPLE = re.compile(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$')


def scrape(server, token=TOKEN, path='/background_job/metrics'):
    """(status, content type, body) of a GET with the bearer token."""
    request = urllib.request.Request(server.url(path))
    if token is not None:
        request.add_header('Authorization', 'Bearer ' + token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers['Content-Type'], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers['Content-Type'], error.read().decode()


def parse(text):
    """{(name, frozenset of label pairs): value}; checks every family has
    its # HELP and # TYPE before its samples."""
    samples, declared = {}, set()
    for line in text.splitlines():
        if line.startswith('# TYPE '):
            declared.add(line.split()[2])
        elif line and not line.startswith('#'):
            name, labels, value = SAMPLE.match(line).groups()
            assert name in declared, line
            pairs = frozenset(re.findall(r'(\w+)="([^"]*)"', labels or ''))
            samples[(name, pairs)] = float(value)
    return samples


def labels(**pairs):
    return frozenset(pairs.items())


class MetricsCase(unittest.TestCase):
    """One committed clone with real jobs: done and failed by a worker, a
    backlog in two channels, one running; a live, a dead and a stopped
    worker row."""

    @classmethod
    def setUpClass(cls):
        cls.db = CommittedDatabase()
        with cls.db.env() as env:
            record = env['background.job.test.record'].create({'name': 'metrics'})
            for n in range(3):
                record.log_run.delay('done-%d' % n)
            record.fail_hard.delay('failed')
        with running(cls.db.runner()):  # registers a worker row, stopped at the end
            wait_for(lambda: set(cls.db.states()) == {'done', 'failed'}, 60,
                     message='the first jobs finished')
        with cls.db.env() as env:
            record = env['background.job.test.record'].browse(record.id)
            for n in range(4):
                record.with_delay(channel='root.a').log_run('a-%d' % n)
            record.with_delay(channel='root.b', eta=3600).log_run('b-later')
        cls.db.query("UPDATE queue_job SET eta = (now() AT TIME ZONE 'UTC') - interval '120 s' "
                     "WHERE id = (SELECT min(id) FROM queue_job WHERE channel = 'root.a')")
        now = datetime.datetime.utcnow()
        live = cls.db.query(
            "INSERT INTO queue_job_worker (uuid, host, pid, threads, date_started, last_beat) "
            "VALUES ('live', 'h', 1, 3, %s, %s), ('dead', 'h', 2, 5, %s, %s) RETURNING id",
            (now, now, now, now - datetime.timedelta(hours=1)))[0][0]
        cls.db.query("UPDATE queue_job SET state = 'started', worker_id = %s WHERE id = "
                     "(SELECT max(id) FROM queue_job WHERE channel = 'root.a')", (live,))
        config = server_config('metrics', threads=0, metrics_token=TOKEN)
        cls.server = odoo_server.OdooServer(cls.db.name, command=server_command(config, cls.db.name))
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.db.drop()

    def test_wrong_or_missing_token_is_refused(self):
        for token in (None, 'nope', TOKEN + 'x', ''):
            status, _, body = scrape(self.server, token=token)
            self.assertEqual(status, 403, (token, body))
            self.assertNotIn('background_job_jobs', body)

    def test_metrics_match_the_table(self):
        status, content_type, body = scrape(self.server)
        self.assertEqual(status, 200, body)
        self.assertEqual(content_type, 'text/plain; version=0.0.4; charset=utf-8')
        samples = parse(body)
        table = self.db.query("SELECT channel, state, count(*) FROM queue_job "
                              "WHERE state NOT IN ('done', 'cancelled') GROUP BY channel, state")
        jobs = {key: value for key, value in samples.items() if key[0] == 'background_job_jobs'}
        self.assertEqual(jobs, {('background_job_jobs', labels(channel=channel, state=state)): count
                                for channel, state, count in table})
        # what the fixture made, as the table says it
        self.assertEqual(jobs[('background_job_jobs', labels(channel='root.a', state='pending'))], 3)
        self.assertEqual(jobs[('background_job_jobs', labels(channel='root', state='failed'))], 1)
        self.assertEqual(samples[('background_job_finished_jobs', labels(state='done'))], 3)
        self.assertEqual(samples[('background_job_finished_jobs', labels(state='failed'))], 1)
        self.assertEqual(samples[('background_job_finished_jobs', labels(state='cancelled'))], 0)
        self.assertEqual(samples[('background_job_running_jobs', labels())], 1)
        oldest_a = samples[('background_job_oldest_pending_seconds', labels(channel='root.a'))]
        self.assertTrue(119 <= oldest_a < 300, oldest_a)
        # root.b's only job is not due yet
        self.assertEqual(samples[('background_job_oldest_pending_seconds', labels(channel='root.b'))], 0)
        self.assertEqual(samples[('background_job_workers', labels(status='live'))], 1)
        self.assertEqual(samples[('background_job_workers', labels(status='dead'))], 1)
        self.assertEqual(samples[('background_job_worker_threads', labels())], 3)

    def test_counts_follow_the_table(self):
        before = parse(scrape(self.server)[2])
        with self.db.env() as env:
            env['background.job.test.record'].search([], limit=1).with_delay(
                channel='root.c').log_run('one more')
        after = parse(scrape(self.server)[2])
        key = ('background_job_jobs', labels(channel='root.c', state='pending'))
        self.assertNotIn(key, before)
        self.assertEqual(after[key], 1)


class NoTokenCase(unittest.TestCase):

    def test_metrics_are_off_without_a_token(self):
        db = CommittedDatabase()
        self.addCleanup(db.drop)
        config = server_config('no-token', threads=0)
        with odoo_server.OdooServer(db.name, command=server_command(config, db.name)) as server:
            for token in (TOKEN, None):
                status, _, body = scrape(server, token=token)
                self.assertEqual(status, 404, body)
                self.assertIn('metrics_token', body)  # says why


class TwoDatabasesServer(odoo_server.OdooServer):
    """Serves two databases: /web/login has no database to show, so the
    server counts as ready when it serves a static file."""

    def get(self, path, timeout=30):
        if path == '/web/login':
            path = '/web/static/src/img/favicon.ico'
        return super().get(path, timeout)


class DatabaseChoiceCase(unittest.TestCase):

    def test_db_parameter_picks_the_database(self):
        first, second = CommittedDatabase(), CommittedDatabase()
        self.addCleanup(first.drop)
        self.addCleanup(second.drop)
        with second.env() as env:
            record = env['background.job.test.record'].create({'name': 'second'})
            for n in range(2):
                record.with_delay(channel='root.second').log_run('second-%d' % n)
        config = server_config('two-databases', threads=0, metrics_token=TOKEN)
        names = (first.name, second.name)
        command = [odoo_server.ODOO, '-c', config, '-d', '%s,%s' % names,
                   '--db-filter=^(%s|%s)$' % names]
        key = ('background_job_jobs', labels(channel='root.second', state='pending'))
        with TwoDatabasesServer(first.name, command=command) as server:
            status, _, body = scrape(server)  # two databases: which one?
            self.assertEqual(status, 404, body)
            status, _, body = scrape(server, path='/background_job/metrics?db=' + second.name)
            self.assertEqual(status, 200, body)
            self.assertEqual(parse(body)[key], 2)
            status, _, body = scrape(server, path='/background_job/metrics?db=' + first.name)
            self.assertEqual(status, 200, body)
            self.assertNotIn(key, parse(body))
            # a database the dbfilter does not serve
            status, _, body = scrape(server, path='/background_job/metrics?db=' + odoo_server.TEST_DB)
            self.assertEqual(status, 404, body)


def health(config, db, *extra):
    """Exit status and output of ``odoo queue-worker --health``."""
    import configparser
    parser = configparser.ConfigParser()
    parser.read(config)
    result = subprocess.run(
        [odoo_server.ODOO, '--addons-path=' + parser['options']['addons_path'],
         'queue-worker', '-c', config, '-d', db, '--health'] + list(extra),
        cwd=odoo_server.ROOT, capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout + result.stderr


class HealthCase(unittest.TestCase):

    def test_health_follows_the_worker_heartbeat(self):
        db = CommittedDatabase()
        self.addCleanup(db.drop)
        config = server_config('health', threads=1, dead_after=30)
        code, output = health(config, db.name)
        self.assertEqual(code, 1, output)  # no worker yet
        self.assertIn('no heartbeat', output)
        worker = queue_worker(config, db.name)
        try:
            wait_for(lambda: health(config, db.name)[0] == 0, 90, interval=1,
                     message='the health check passes once the worker beats')
            code, output = health(config, db.name, '--pid', str(worker.pid))
            self.assertEqual(code, 0, output)
            code, output = health(config, db.name, '--pid', str(worker.pid + 100000))
            self.assertEqual(code, 1, output)
            # a hung worker (stopped, yet alive to its supervisor) stops beating
            os.kill(worker.pid, signal.SIGSTOP)
            try:
                wait_for(lambda: health(config, db.name, '--max-age', '2')[0] == 1, 60,
                         interval=1, message='the health check fails once the beats stop')
            finally:
                os.kill(worker.pid, signal.SIGCONT)
        finally:
            end(worker)
        code, output = health(config, db.name)  # stopped: its row says so
        self.assertEqual(code, 1, output)


def test_bench_metrics_smoke_prints_its_table():
    """bench/metrics.py in its short mode, so the README's timing command
    cannot break silently."""
    db = odoo_server.TEST_DB + '_metrics'
    try:
        result = subprocess.run([sys.executable, '-m', 'bench.metrics',
                                 '--smoke', '--db', db], cwd=odoo_server.ROOT,
                                capture_output=True, text=True, timeout=300)
    finally:
        for name in (db, odoo_server.ensure_db.template_name(db)):
            odoo_server.ensure_db.drop(name, force=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert '| rows | request median | request worst | SQL median | SQL worst |' in result.stdout
    assert '| 3,000 | ' in result.stdout, result.stdout
