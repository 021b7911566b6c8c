"""Helpers for tests that need real commits: a cloned database, committed
environments, and job workers running in this process."""
import contextlib
import threading
import unittest
import json
import uuid

import odoo
from odoo import SUPERUSER_ID, api

from odoo.addons.background_job.engine import store
from odoo.addons.background_job.engine.worker import DatabaseRunner, Settings
from odoo.addons.background_job.service.executor import OdooExecutor
from odoo.addons.background_job.service.server import connect

from . import odoo_server

# Fast clocks for tests; production values are in engine/defaults.py.
FAST = dict(poll_interval=0.2, heartbeat_interval=0.5, reap_interval=0.5, dead_after=3)


def as_datetime(value):
    """A timestamp read through Odoo's connection (text) or from JSON."""
    import datetime
    if value is None or isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.strptime(value, '%Y-%m-%d %H:%M:%S.%f' if '.' in value
                                      else '%Y-%m-%d %H:%M:%S')


def query_once(connection, statement, params=None):
    """Run one statement in a committed transaction of ``connection``
    (psycopg2), then close it: its rows, or the count of rows it changed."""
    try:
        with connection, connection.cursor() as cr:
            cr.execute(statement, params)
            return cr.fetchall() if cr.description else cr.rowcount
    finally:
        connection.close()


def create_manager(env, name, login, **values):
    """A Job Queue Manager (an internal user), whose password is its login."""
    groups = [env.ref('base.group_user').id,
              env.ref('background_job.background_job_group_manager').id]
    return env['res.users'].create(dict(
        name=name, login=login, password=login, groups_id=[(6, 0, groups)], **values))


def wait_for(predicate, timeout=60, interval=0.05, message='condition'):
    """Poll ``predicate`` until it returns a truthy value, at most ``timeout`` s."""
    return odoo_server.wait_until(predicate, timeout, message, interval)


class CommittedDatabase:
    """A throwaway clone of the test database whose transactions commit."""

    def __init__(self):
        self.name = odoo_server.clone_database()
        self.registry = odoo.registry(self.name)

    @contextlib.contextmanager
    def env(self, uid=SUPERUSER_ID, context=None):
        """An environment whose transaction commits at the end of the block."""
        with api.Environment.manage(), self.registry.cursor() as cr:
            yield api.Environment(cr, uid, context or {})

    def query(self, statement, params=None):
        return query_once(connect(self.name), statement, params)

    def load_language(self, lang='zh_CN'):
        """What Settings > Translations > Load a Translation does."""
        with self.env() as env:
            env['base.language.install'].create({'lang': lang}).lang_install()

    def states(self, marker_like='%'):
        return dict(self.query("SELECT state, count(*) FROM queue_job "
                               "WHERE args LIKE %s GROUP BY state", (marker_like,)))

    def log_count(self, marker):
        return self.query("SELECT count(*) FROM background_job_test_log WHERE marker = %s",
                          (marker,))[0][0]

    def runner(self, threads=2, **overrides):
        settings = Settings(threads=threads, **dict(FAST, **overrides))
        return DatabaseRunner(self.name, lambda: connect(self.name),
                              OdooExecutor(self.name), settings)

    def drop(self):
        odoo.modules.registry.Registry.delete(self.name)
        odoo.sql_db.close_db(self.name)
        odoo_server.drop_database(self.name)


class CommittedDatabaseCase(unittest.TestCase):
    """Tests sharing one throwaway committed database (``cls.db``)."""

    @classmethod
    def setUpClass(cls):
        cls.db = CommittedDatabase()

    @classmethod
    def tearDownClass(cls):
        cls.db.drop()


@contextlib.contextmanager
def running(runner):
    runner.start()
    try:
        yield runner
    finally:
        runner.stop(timeout=30)


def in_threads(count, target):
    """Run ``target(barrier)`` in ``count`` threads, each waiting at
    ``barrier`` (a threading.Barrier of ``count``) to start together; the
    errors they raised."""
    barrier, errors = threading.Barrier(count), []

    def run():
        try:
            target(barrier)
        except Exception as error:  # returned to the test
            errors.append(error)
    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def server_config(name, odoo_options=None, **job_options):
    """A copy of odoo.conf with [background_job] options replaced (and
    [options] ones: ``odoo_options``), written to the test's output folder;
    returns its path."""
    import configparser
    import os
    parser = configparser.ConfigParser()
    parser.read(odoo_server.CONFIG)
    for key, value in (odoo_options or {}).items():
        parser['options'][key] = str(value)
    for key, value in job_options.items():
        parser['background_job'][key] = str(value)
    path = os.path.join(odoo_server.test_output_dir(), name + '.conf')
    with open(path, 'w') as handle:
        parser.write(handle)
    return path


def enqueue_by_sql(connection, method, calls):
    """Enqueue ``background.job.test.record.<method>(*args)`` for each
    ``args`` of ``calls``, on a new record, in one committed transaction of
    ``connection`` (psycopg2): no Odoo registry needed, so on any server
    (a throwaway cluster, tests/pg_cluster.py). Returns the job ids."""
    with connection, connection.cursor() as cr:
        cr.execute("INSERT INTO background_job_test_record (name) VALUES ('c') RETURNING id")
        record_id = cr.fetchone()[0]
        return [store.enqueue(cr, {
            'uuid': str(uuid.uuid4()), 'name': method, 'model_name': 'background.job.test.record',
            'method_name': method, 'record_ids': '[%d]' % record_id, 'args': json.dumps(args),
            'kwargs': '{}', 'context': '{}', 'user_id': 1, 'company_id': 1,
            'channel': 'root', 'priority': 10, 'eta': None, 'state': 'pending',
            'max_retries': 5, 'timeout': 0, 'identity_key': None, 'lock_key': None,
            'parent_id': None})
            for args in calls]


def server_command(config, db):
    return [odoo_server.ODOO, '-c', config, '-d', db, '--db-filter=^%s$' % db]


class BatchHelpers:
    """Start batches of background.job.test.record.batch_chunk on ``self.db``
    (a CommittedDatabase) and read how they went."""

    MODEL = 'background.job.test.record'
    DONE = MODEL + '.batch_done'

    def make_records(self, count):
        return [row[0] for row in self.db.query(
            "INSERT INTO background_job_test_record (name, value) "
            "SELECT 'batch ' || n, 0 FROM generate_series(1, %s) n RETURNING id", (count,))]

    def start_batch(self, ids, marker, uid=SUPERUSER_ID, seconds=0, **options):
        options.setdefault('done_method', self.DONE)
        with self.db.env(uid) as env:
            return env['queue.job'].batch_execute_job(
                self.MODEL, 'batch_chunk', ids, args=(marker,), kwargs={'seconds': seconds},
                **options).id

    def batch(self, batch_id):
        with self.db.env() as env:
            batch = env['queue.job'].browse(batch_id)
            return {'state': batch.state, 'batch_state': batch.batch_state,
                    'total': batch.batch_total, 'done': batch.batch_done,
                    'failed': batch.batch_failed, 'running': batch.batch_running,
                    'done_job': batch.done_job_id.id, 'done_job_state': batch.done_job_id.state}

    def done_calls(self, batch_id):
        """What each run of the done method saw (batch_done logs it under
        the batch_job_id it was given), in the order they ran."""
        return [json.loads(row[0]) for row in self.db.query(
            "SELECT info FROM background_job_test_log WHERE marker = %s ORDER BY id",
            ('batch-done:%d' % batch_id,))]

    def done_jobs(self, batch_id):
        """(id, state, retry) of the jobs enqueued to run the batch's done method."""
        return self.db.query("SELECT id, state, retry FROM queue_job "
                             "WHERE method_name = '_run_batch_done_method' AND record_ids = %s",
                             (json.dumps([batch_id]),))

    def wait_batch_state(self, batch_id, states, timeout=90):
        try:
            return wait_for(lambda: self.batch(batch_id)['state'] in states and self.batch(batch_id),
                            timeout, interval=0.2)
        except AssertionError:
            raise AssertionError('batch %s not in %s after %ss: %s; its jobs: %s' % (
                batch_id, states, timeout, self.batch(batch_id), self.db.query(
                    'SELECT state, count(*), max(exc_message) FROM queue_job '
                    'WHERE parent_id = %s GROUP BY state', (batch_id,)))) from None

    def race_finish_crons(self, count=2):
        """Run the finish cron in ``count`` transactions whose snapshots are
        taken together; returns the errors they raised."""
        def cron(barrier):
            with self.db.env() as env:
                env['queue.job'].search([], limit=1)  # the transaction's snapshot
                barrier.wait(10)
                env['queue.job']._cron_finish_batches()
        return in_threads(count, cron)
