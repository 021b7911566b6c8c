"""``python -m bench.metrics``: how fast ``GET /background_job/metrics``
answers with 1,000,000 jobs (``make bench-ui`` measures it too, bench/ui.py).

The same table as ``make bench-ui`` (bench/list_view.py: 7 days of
history, 2% pending, 1% failed), a real Odoo server without job threads,
warm runs of the scrape with its bearer token: median and worst of the
whole request, and of the two statements alone (engine/metrics.py).
``--rows N``, ``--runs N``, ``--db NAME``; ``--smoke``: a short run.
"""
import os
import urllib.request

from bench.list_view import (
    argument_parser, build_database, ensure_db, parse_arguments, server_config, time_runs)
from tests.odoo_server import OdooServer

NAME = 'bench_metrics'
TOKEN = 'bench-metrics-token'


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


def measure(server, db, runs):
    """((request median, worst), (statements median, worst)) in seconds, on
    a server whose config has ``metrics_token = TOKEN``."""
    return time_runs(lambda: scrape(server), runs), time_statements(db, runs)


def print_table(rows, measured):
    (http_median, http_worst), (sql_median, sql_worst) = measured
    print('| rows | request median | request worst | SQL median | SQL worst |')
    print('|---|---|---|---|---|')
    print('| {:,} | {:.0f} ms | {:.0f} ms | {:.0f} ms | {:.0f} ms |'.format(
        rows, http_median * 1000, http_worst * 1000, sql_median * 1000, sql_worst * 1000))


def print_load(runs):
    # the machine may be shared: its load says how much the timings mean
    print('load average: %.1f %.1f %.1f, %d runs' % (os.getloadavg() + (runs,)))


def main():
    options = parse_arguments(argument_parser(__doc__, runs=20))
    build_database(options.db, options.rows)
    command = [ensure_db.ODOO, '-c', server_config(NAME, metrics_token=TOKEN), '-d', options.db,
               '--db-filter=^%s$' % options.db]
    with OdooServer(options.db, command=command, name=NAME) as server:
        measured = measure(server, options.db, options.runs)
    print_table(options.rows, measured)
    print_load(options.runs)


if __name__ == '__main__':
    main()
