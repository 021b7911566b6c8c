"""``make bench-ui``: how fast the backend answers with 1,000,000 jobs in
``queue_job`` (bench/list_view.py's table, its own database
``background_job_bench_ui``), on one real Odoo server without job threads:

* the Jobs list (bench/list_view.py): rpc and browser, default filter and
  no filter;
* the Overview, the Job Queue app's first screen (bench/overview.py): rpc
  and browser;
* ``GET /background_job/metrics`` (bench/metrics.py): the request and its
  statements alone.

Median and worst of several warm runs, printed as the README's tables.
``--rows N``, ``--runs N``, ``--db NAME``, ``--no-browser``; ``--smoke``
(``make bench-ui SMOKE=1``) is a short run that only proves it still works.
"""
from bench import list_view, metrics, overview
from bench.list_view import ensure_db
from tests.odoo_server import OdooServer


def print_overview(rows, rpc, browser):
    shown = ['%.0f ms' % (value * 1000) for value in browser] if browser else ['-', '-']
    print('| rows | screen | rpc median | rpc worst | browser median | browser worst |')
    print('|---|---|---|---|---|---|')
    print('| {:,} | overview | {:.0f} ms | {:.0f} ms | {} | {} |'.format(
        rows, rpc[0] * 1000, rpc[1] * 1000, *shown))


def main():
    parser = list_view.argument_parser(__doc__, runs=10)
    parser.add_argument('--no-browser', action='store_true')
    options = list_view.parse_arguments(parser)
    list_view.build_database(options.db, options.rows)
    config = list_view.server_config(metrics_token=metrics.TOKEN)
    command = [ensure_db.ODOO, '-c', config, '-d', options.db, '--db-filter=^%s$' % options.db]
    browse = not options.no_browser
    with OdooServer(options.db, command=command, name=list_view.NAME) as server:
        list_rpc = list_view.measure_rpc(server, options.runs)
        list_browser = browse and list_view.measure_browser(server, options.runs)
        unfiltered = list_view.measure_rpc(server, options.runs, domain=[])
        overview_rpc = overview.measure_rpc(server, options.runs)
        overview_browser = browse and overview.measure_browser(server, options.runs)
        scrape = metrics.measure(server, options.db, options.runs)
    list_view.print_table(options.rows, list_rpc, list_browser, unfiltered)
    print()
    print_overview(options.rows, overview_rpc, overview_browser)
    print()
    metrics.print_table(options.rows, scrape)
    metrics.print_load(options.runs)


if __name__ == '__main__':
    main()
