"""The Job Queue overview's open time for ``make bench-ui`` (bench/ui.py), on
bench/list_view.py's table, as its manager:

* rpc: the requests the web client sends when Overview is clicked
  (``/web/action/load`` of the client action, ``queue.job.overview_data``);
* browser: headless Chromium, from the click on the Overview menu until its
  channels, chart and workers are shown.
"""
from bench.list_view import ensure_manager, measure_clicks, time_runs

OVERVIEW_ACTION = 'background_job.queue_job_overview_action'


def open_overview(session, action_id):
    """The web client's requests when the Overview menu is clicked."""
    session.post('/web/action/load', {'action_id': action_id})
    data = session.call_kw('queue.job', 'overview_data', [])
    assert data['channels'] and len(data['minutes']) == 60, data
    return data


def measure_rpc(server, runs):
    session = ensure_manager(server)
    action_id = session.call_kw('ir.model.data', 'xmlid_to_res_id', [OVERVIEW_ACTION])
    return time_runs(lambda: open_overview(session, action_id), runs)


# Clicks the Overview menu and resolves, in milliseconds, once the overview
# shows its channels (rows), its chart (60 minutes) and its workers table,
# and no request is pending: timed inside the page.
CLICK_AND_WAIT_JS = """
var done = arguments[arguments.length - 1];
var started = performance.now();
document.querySelector('a[data-menu-xmlid="background_job.queue_job_overview_menu"]').click();
(function check() {
    var loading = document.querySelector('.o_loading');
    if (document.querySelectorAll('.o_background_job_overview_channels tr[data-channel]').length
            && document.querySelectorAll('svg.o_background_job_overview_chart g').length === 60
            && document.querySelector('.o_background_job_overview_workers')
            && !(loading && loading.offsetParent !== null)) {
        done(performance.now() - started);
    } else {
        setTimeout(check, 2);
    }
})();
"""


def measure_browser(server, runs):
    return measure_clicks(server, runs, CLICK_AND_WAIT_JS, 'overview-1M-rows')
