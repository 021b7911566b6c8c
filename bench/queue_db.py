"""The bench database and its worker, for every measure of ``make bench``:
connections, backlogs of no-op jobs, waiting for them, rates, and a real
``odoo queue-worker`` process (threads or job processes)."""
import os
import subprocess
import time

import psutil
import psycopg2

import ensure_db
from engine import job_row

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_DB = 'background_job_bench'
MODEL = 'background.job.test.record'
_database = [BENCH_DB]

# Bulk rows for backlogs: delay()'s row with the defaults, no-op method.
BULK_INSERT = job_row.insert_select({
    'uuid': 'md5(random()::text || n)', 'name': "'bench'", 'model_name': '%(model)s',
    'method_name': "'noop'", 'user_id': '1', 'company_id': '1', 'channel': '%(channel)s',
}) + '\nFROM generate_series(1, %(count)s) AS n'


def use_database(name):
    """connect(), query() and QueueWorker serve database ``name`` from now on."""
    _database[0] = name


def connect(synchronous_commit=True):
    options = '' if synchronous_commit else '-c synchronous_commit=off'
    return psycopg2.connect(dbname=_database[0], options=options, **ensure_db.db_params())


def query(statement, params=None):
    connection = connect()
    try:
        with connection, connection.cursor() as cr:
            cr.execute(statement, params)
            return cr.fetchall() if cr.description else None
    finally:
        connection.close()



def insert_backlog(count, channel='root'):
    query(BULK_INSERT, {'model': MODEL, 'channel': channel, 'count': count})
    query("SELECT pg_notify('background_job', '')")


def reset_jobs():
    # TRUNCATE, not DELETE: a million-row DELETE fires the parent_id
    # cascade trigger once per row and fights the running workers.
    query('TRUNCATE queue_job CASCADE')  # and queue_job_progress, queue_job_dependency
    connection = connect()
    connection.autocommit = True
    with connection.cursor() as cr:
        cr.execute('VACUUM ANALYZE queue_job')
    connection.close()


def done_count():
    return query("SELECT count(*) FROM queue_job WHERE state = 'done'")[0][0]


def wait_done(count, timeout=600):
    deadline = time.monotonic() + timeout
    while done_count() < count:
        if time.monotonic() > deadline:
            raise RuntimeError('only %d of %d jobs done after %ss' % (done_count(), count, timeout))
        time.sleep(0.2)


def span_rate(count=None):
    """Jobs per second from the first start to the finish of the
    ``count``-th done job (default: of the last one)."""
    count = count or done_count()
    seconds = query(
        "SELECT extract(epoch FROM (SELECT date_done FROM queue_job WHERE state = 'done' "
        "                           ORDER BY date_done OFFSET %s LIMIT 1) - min(date_started)) "
        "FROM queue_job WHERE state = 'done'", (count - 1,))[0][0]
    return count / float(seconds)


# -- measurements ----------------------------------------------------------------

class QueueWorker:
    """``odoo queue-worker`` on the bench database, default settings, or
    with ``processes`` job processes and more Odoo ``options``. As a
    context manager: the psutil.Process of the worker (the supervisor of
    its job processes, if any), once every process serves the database."""

    def __init__(self, processes=0, options=()):
        self.processes = processes
        self.options = list(options)

    def __enter__(self):
        config = ensure_db.CONFIG
        addons = ensure_db.config_options()['addons_path']
        self.log = open(os.path.join(ROOT, 'test-output', 'bench-worker.log'), 'ab')
        query("UPDATE queue_job_worker SET date_stopped = now() WHERE date_stopped IS NULL")
        extra = ['--processes', str(self.processes)] if self.processes else []
        self.process = subprocess.Popen(
            [ensure_db.ODOO, '--addons-path=' + addons, 'queue-worker', '-c', config,
             '-d', _database[0], '--log-level=warn'] + self.options + extra, cwd=ROOT,
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while len(self.job_process_pids()) < max(1, self.processes):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError('queue-worker did not start; see test-output/bench-worker.log')
            time.sleep(0.2)
        return psutil.Process(self.process.pid)

    def job_process_pids(self):
        """Pids of the processes that run its jobs (worker rows serving now)."""
        return {row[0] for row in query(
            'SELECT pid FROM queue_job_worker WHERE date_stopped IS NULL')}

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(60)
        self.log.close()
