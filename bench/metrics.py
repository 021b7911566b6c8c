"""``python -m bench.metrics``: how fast ``GET /background_job/metrics``
answers with 1,000,000 jobs.

The same table as ``make bench-ui`` (bench/list_view.py: 7 days of
history, 2% pending, 1% failed), a real Odoo server without job threads,
warm runs of the scrape with its bearer token: median and worst of the
whole request, and of the two statements alone (engine/metrics.py).
``--rows N``, ``--runs N``, ``--db NAME``; ``--smoke``: a short run.
"""
import configparser
import os
import statistics
import time
import urllib.request

from bench.list_view import argument_parser, build_database, ensure_db, parse_arguments
from tests.odoo_server import OdooServer, test_output_dir

NAME = 'bench_metrics'
TOKEN = 'bench-metrics-token'


def server_config():
    """odoo.conf without job threads (the rows stay as generated), with a token."""
    parser = configparser.ConfigParser()
    parser.read(ensure_db.CONFIG)
    parser['background_job']['threads'] = '0'
    parser['background_job']['metrics_token'] = TOKEN
    path = os.path.join(test_output_dir(NAME), 'odoo.conf')
    with open(path, 'w') as handle:
        parser.write(handle)
    return path


def scrape(server):
    request = urllib.request.Request(server.url('/background_job/metrics'),
                                     headers={'Authorization': 'Bearer ' + TOKEN})
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read().decode()
    assert 'background_job_finished_jobs{state="done"}' in body, body[:2000]
    return body


def time_statements(db, runs):
    """The two statements alone, on one warm connection, without HTTP."""
    import psycopg2
    from odoo.addons.background_job.engine import metrics
    connection = psycopg2.connect(dbname=db, **ensure_db.db_params())
    connection.autocommit = True
    try:
        with connection.cursor() as cr:
            return time_runs(lambda: metrics.collect(cr, 30), runs)
    finally:
        connection.close()


def time_runs(function, runs):
    function()  # warm-up
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000, max(timings) * 1000


def main():
    options = parse_arguments(argument_parser(__doc__, runs=20))
    build_database(options.db, options.rows)
    sql_median, sql_worst = time_statements(options.db, options.runs)
    command = [ensure_db.ODOO, '-c', server_config(), '-d', options.db,
               '--db-filter=^%s$' % options.db]
    with OdooServer(options.db, command=command, name=NAME) as server:
        http_median, http_worst = time_runs(lambda: scrape(server), options.runs)
    print('| rows | request median | request worst | SQL median | SQL worst |')
    print('|---|---|---|---|---|')
    print('| {:,} | {:.0f} ms | {:.0f} ms | {:.0f} ms | {:.0f} ms |'.format(
        options.rows, http_median, http_worst, sql_median, sql_worst))
    # the machine may be shared: its load says how much the timings mean
    print('load average: %.1f %.1f %.1f, %d runs' % (os.getloadavg() + (options.runs,)))


if __name__ == '__main__':
    main()
