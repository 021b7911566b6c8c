"""How fast the Jobs list opens with 1,000,000 jobs, for ``make bench-ui``
(bench/ui.py), and the table and server that its other measures share.

Fills ``queue_job`` of its own database (``background_job_bench_ui``) with
1,000,000 rows spread over the 7 days the cleanup keeps them (mostly done,
1% failed, a recent backlog of pending jobs, a few running), starts a real
Odoo server (no job threads, so the rows stay as they are) and measures, as
a job queue manager who is not the superuser (record rules apply):

* rpc: the requests the web client sends when the Jobs menu is clicked
  (``/web/action/load``, ``load_views``, ``/web/dataset/search_read`` with
  the default filter, which also counts the matches for the pager);
* browser: headless Chromium, from the click on the Jobs menu until the
  rows are shown;

median and worst of several warm runs.
"""
import argparse
import configparser
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'scripts'))
import ensure_db  # noqa: E402
import odoo  # noqa: E402

# Odoo's addons path first: tests/odoo_server.py imports odoo.addons.background_job.
odoo.tools.config.parse_config(['-c', ensure_db.CONFIG, '--log-level=warn'])
from engine import job_row  # noqa: E402
from tests.jsonrpc import JsonRpcSession  # noqa: E402
from tests.odoo_server import test_output_dir  # noqa: E402

BENCH_DB = 'background_job_bench_ui'
NAME = 'bench_list_view'
MANAGER = 'bench_manager'
LIST_FIELDS = ['state', 'name', 'model_name', 'method_name', 'channel', 'priority', 'user_id',
               'company_id', 'date_created', 'date_started', 'date_done', 'exec_time', 'retry']
# The default filter of the Jobs action (views/queue_job_views.xml).
DEFAULT_DOMAIN = [('state', 'in', ['pending', 'started', 'failed'])]
# --smoke: few rows, yet 3% of them (90) match the default filter: a full
# page of 80.
SMOKE_ROWS = 3000

# Row n was created n * 0.6 s ago (1,000,000 rows: 7 days). The newest 2%
# are a backlog still pending (8 of them running), 1% of all failed, 0.5%
# cancelled, the rest done.
FILL = job_row.insert_select({
    'uuid': 'md5(n::text)', 'name': "'Bench job ' || n",
    'model_name': "(ARRAY['res.partner', 'res.users', 'res.company', "
                  "'background.job.test.record'])[1 + n %% 4]",
    'method_name': "(ARRAY['noop', 'log_run', 'sync', 'reconcile'])[1 + (n / 7) %% 4]",
    'record_ids': "'[' || n || ']'", 'args': """'["bench"]'""",
    'user_id': '%(user_id)s', 'company_id': '1',
    'channel': "(ARRAY['root', 'root.mail', 'root.import'])[1 + n %% 3]",
    'eta': 'created', 'state': 'state',
    'retry': "CASE WHEN state = 'failed' THEN 5 ELSE 0 END",
    'exc_type': "CASE WHEN state = 'failed' THEN 'ValueError' END",
    'exc_message': "CASE WHEN state = 'failed' THEN 'bench failure ' || n END",
    'result': "CASE WHEN state = 'done' THEN 'ok' END",
    'date_created': 'created',
    'date_started': "CASE WHEN state <> 'pending' THEN created + interval '1 second' END",
    'date_done': "CASE WHEN state IN ('done', 'failed', 'cancelled') "
                 "THEN created + interval '2 seconds' END",
    'exec_time': "CASE WHEN state IN ('done', 'failed') THEN 1.0 END",
}) + """
FROM (
    SELECT n, (now() AT TIME ZONE 'UTC') - n * interval '0.6 seconds' AS created,
           CASE WHEN n %% 100 = 0 THEN 'failed'
                WHEN n <= 8 THEN 'started'
                WHEN n <= %(rows)s / 50 THEN 'pending'
                WHEN n %% 200 = 1 THEN 'cancelled'
                ELSE 'done' END AS state
    FROM generate_series(1, %(rows)s) AS n
) AS generated
"""


def query(db, statement, params=None, autocommit=False):
    import psycopg2
    connection = psycopg2.connect(dbname=db, **ensure_db.db_params())
    connection.autocommit = autocommit
    try:
        with connection.cursor() as cr:
            cr.execute(statement, params)
            rows = cr.fetchall() if cr.description else None
        if not autocommit:
            connection.commit()
        return rows
    finally:
        connection.close()


def build_database(db, rows):
    subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', 'ensure_db.py'), db,
                    '--install=background_job,background_job_test'], check=True)
    existing = query(db, "SELECT count(*) FROM queue_job WHERE name LIKE 'Bench job %'")[0][0]
    if existing != rows or query(db, 'SELECT count(*) FROM queue_job')[0][0] != rows:
        print('filling queue_job with %d rows ...' % rows, flush=True)
        query(db, 'TRUNCATE queue_job CASCADE')
        query(db, FILL, {'rows': rows, 'user_id': 1})
    query(db, 'VACUUM ANALYZE queue_job', autocommit=True)


def server_config(name=NAME, **options):
    """odoo.conf without job threads (the rows must stay as generated), with
    other ``[background_job]`` ``options``, in test-output/<name>/."""
    parser = configparser.ConfigParser()
    parser.read(ensure_db.CONFIG)
    parser['background_job']['threads'] = '0'
    for key, value in options.items():
        parser['background_job'][key] = str(value)
    path = os.path.join(test_output_dir(name), 'odoo.conf')
    with open(path, 'w') as handle:
        parser.write(handle)
    return path


def ensure_manager(server):
    """A manager who is not the superuser, so that record rules apply."""
    admin = JsonRpcSession(server, 'admin', 'admin')
    found = admin.call_kw('res.users', 'search', [[('login', '=', MANAGER)]])
    if not found:
        groups = [admin.call_kw('ir.model.data', 'xmlid_to_res_id', [xmlid])
                  for xmlid in ('base.group_user', 'background_job.background_job_group_manager')]
        admin.call_kw('res.users', 'create', [{'name': 'Bench Manager', 'login': MANAGER,
                                               'password': MANAGER,
                                               'groups_id': [(6, 0, groups)]}])
    return JsonRpcSession(server, MANAGER, MANAGER)


def open_jobs_list(session, action_id, domain=DEFAULT_DOMAIN):
    """The web client's requests when the Jobs menu is clicked."""
    session.post('/web/action/load', {'action_id': action_id})
    session.call_kw('queue.job', 'load_views', [], {
        'views': [[False, 'list'], [False, 'form'], [False, 'pivot'], [False, 'graph'],
                  [False, 'search']],
        'options': {'action_id': action_id, 'load_filters': True, 'toolbar': True}})
    result = session.post('/web/dataset/search_read', {
        'model': 'queue.job', 'fields': LIST_FIELDS, 'domain': domain,
        'context': {}, 'offset': 0, 'limit': 80, 'sort': ''})
    assert len(result['records']) == 80, result['length']
    return result['length']


def time_runs(function, runs):
    function()  # warm-up: caches, first compilation of views
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), max(timings)


def measure_rpc(server, runs, domain=DEFAULT_DOMAIN):
    session = ensure_manager(server)
    action_id = session.call_kw('ir.model.data', 'xmlid_to_res_id',
                                ['background_job.queue_job_action'])
    length = open_jobs_list(session, action_id, domain)
    return length, time_runs(lambda: open_jobs_list(session, action_id, domain), runs)


# Clicks the Jobs menu and resolves, in milliseconds, once the job list
# (a list with a Method column) shows its rows and no request is pending:
# timed inside the page, so the driver's polling adds nothing.
CLICK_AND_WAIT_JS = """
var done = arguments[arguments.length - 1];
var started = performance.now();
document.querySelector('a[data-menu-xmlid="background_job.queue_job_menu"]').click();
(function check() {
    var headers = Array.from(document.querySelectorAll('.o_list_view thead th'));
    var loading = document.querySelector('.o_loading');
    if (headers.some(function (th) { return th.textContent.trim() === 'Method'; })
            && document.querySelectorAll('.o_list_view .o_data_row').length >= 80
            && !(loading && loading.offsetParent !== null)) {
        done(performance.now() - started);
    } else {
        setTimeout(check, 2);
    }
})();
"""


CHANNELS_SHOWN_JS = """
var headers = Array.from(document.querySelectorAll('.o_list_view thead th'));
return headers.some(function (th) { return th.textContent.trim() === 'Capacity'; });
"""


def measure_clicks(server, runs, click_and_wait_js, screenshot):
    """Median and worst of ``click_and_wait_js`` (a script that clicks a
    menu and resolves with the milliseconds until its screen is shown), each
    run from the Channels list, in headless Chromium as the manager."""
    from tests.browser import Browser

    with Browser(name=NAME) as browser:
        browser.login(server, MANAGER, MANAGER)
        browser.driver.set_script_timeout(60)

        def click():
            # from another screen, so that the click really loads its screen
            browser.wait_for('a[data-menu-xmlid="background_job.queue_job_channel_menu"]').click()
            browser.wait_until(lambda driver: driver.execute_script(CHANNELS_SHOWN_JS),
                               'the channel list')
            browser.wait_idle()
            return browser.driver.execute_async_script(click_and_wait_js) / 1000

        click()  # warm-up
        timings = [click() for _ in range(runs)]
        browser.screenshot(screenshot)
        return statistics.median(timings), max(timings)


def measure_browser(server, runs):
    return measure_clicks(server, runs, CLICK_AND_WAIT_JS, 'jobs-list-1M-rows')


def argument_parser(doc, runs):
    """The options of the 1,000,000-row benchmarks (this one, bench/metrics.py)."""
    parser = argparse.ArgumentParser(description=doc.split('\n\n')[0])
    parser.add_argument('--rows', type=int, default=1000000)
    parser.add_argument('--runs', type=int, default=runs)
    parser.add_argument('--db', default=BENCH_DB, help='database (default: %(default)s)')
    parser.add_argument('--smoke', action='store_true',
                        help='does it all still run? --rows %d --runs 1' % SMOKE_ROWS)
    return parser


def parse_arguments(parser):
    options = parser.parse_args()
    if options.smoke:
        options.rows, options.runs = SMOKE_ROWS, 1
    return options


def print_table(rows, rpc, browser, unfiltered):
    """The Jobs list's rows of the README table: ``rpc``, ``unfiltered``:
    (matches, (median, worst)); ``browser``: (median, worst) or None."""
    length, (rpc_median, rpc_worst) = rpc
    shown = ['%.0f ms' % (value * 1000) for value in browser] if browser else ['-', '-']
    print('| rows | list | matches | rpc median | rpc worst | browser median '
          '| browser worst |')
    print('|---|---|---|---|---|---|---|')
    print('| {:,} | default filter | {:,} | {:.0f} ms | {:.0f} ms | {} | {} |'.format(
        rows, length, rpc_median * 1000, rpc_worst * 1000, *shown))
    # For comparison: the filter removed, every job matches and is counted.
    length, (rpc_median, rpc_worst) = unfiltered
    print('| {:,} | no filter | {:,} | {:.0f} ms | {:.0f} ms | - | - |'.format(
        rows, length, rpc_median * 1000, rpc_worst * 1000))
