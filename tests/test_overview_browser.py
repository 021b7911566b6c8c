"""The overview in a real browser: a job queue manager logs in, the Job Queue
app opens on it, with each channel's counts, the chart of the last hour and
the workers; it refreshes itself while shown and stops once left; a count
opens the Jobs list it counts; a Chinese manager sees it in Chinese.
Screenshots in test-output/<test name>/."""
import datetime
import re
import time

import pytest
from selenium.webdriver.common.by import By

from .browser import Browser
from .common import create_manager, server_command, server_config
from .odoo_server import OdooServer
from .test_backend_browser import BackendBrowserCase

pytestmark = pytest.mark.server

MANAGER = 'jq_overview_manager'
ZH_MANAGER = 'jq_overview_zh'
CHANNEL = 'root.overview_web'
OTHER = 'root.overview_web_other'

# Each cell of a channel's row, by its data-field.
CHANNEL_ROWS_JS = """
var result = {};
document.querySelectorAll('.o_background_job_overview_channels tbody tr[data-channel]')
    .forEach(function (row) {
        var cells = {};
        row.querySelectorAll('td[data-field]').forEach(function (cell) {
            cells[cell.dataset.field] = cell.textContent.trim();
        });
        result[row.dataset.channel] = cells;
    });
return result;
"""
# Per minute of the chart: [title, height of the done bar, of the failed bar].
CHART_JS = """
return Array.from(document.querySelectorAll('svg.o_background_job_overview_chart g')).map(
    function (g) {
        return [g.querySelector('title').textContent,
                parseFloat(g.querySelector('rect.o_done').getAttribute('height')),
                parseFloat(g.querySelector('rect.o_failed').getAttribute('height'))];
    });
"""
TITLE = re.compile(r'^(\d+) min ago: (\d+) done, (\d+) failed$')
OVERVIEW_CALLS_JS = """
return performance.getEntriesByType('resource').filter(function (entry) {
    return entry.name.indexOf('/queue.job/overview_data') >= 0;
}).length;
"""


class TestOverviewBrowser(BackendBrowserCase):

    @classmethod
    def prepare_database(cls):
        cls.db.load_language('zh_CN')
        with cls.db.env() as env:
            cls.manager_id = create_manager(env, 'Overview Manager', MANAGER).id
            create_manager(env, 'Overview Manager (zh)', ZH_MANAGER, lang='zh_CN')
        cls.make_jobs_and_workers()

    @classmethod
    def start_server(cls):
        # No job threads: the jobs stay in the states the test gave them,
        # and the workers shown are the rows below, judged live or dead
        # by the server's own rule (a heartbeat within dead_after).
        config = server_config('overview-browser', threads=0, dead_after=3600)
        return OdooServer(cls.db.name, command=server_command(config, cls.db.name),
                          name='TestOverviewBrowser').start()

    @classmethod
    def make_jobs_and_workers(cls):
        """In CHANNEL: 3 pending (one due for 10 minutes), 1 running, 2
        failed 3 minutes ago, 4 done 1 minute ago; in OTHER: 1 done with them."""
        plan = [(CHANNEL, 'pending', None)] * 3 + [(CHANNEL, 'started', None)] \
            + [(CHANNEL, 'failed', 200)] * 2 + [(CHANNEL, 'done', 70)] * 4 + [(OTHER, 'done', 70)]
        with cls.db.env(cls.manager_id) as env:
            record = env['background.job.test.record'].create({'name': 'overview'})
            ids = [record.with_delay(channel=channel).log_run('overview').id
                   for channel, _state, _ago in plan]
        for job_id, (_channel, state, done_ago) in zip(ids, plan):
            cls.db.query("UPDATE queue_job SET state = %s, date_done = (now() AT TIME ZONE 'UTC')"
                         " - make_interval(secs => %s) WHERE id = %s", (state, done_ago, job_id))
        cls.db.query("UPDATE queue_job SET eta = (now() AT TIME ZONE 'UTC') - interval '10 min'"
                     " WHERE id = %s", (ids[0],))
        now = datetime.datetime.utcnow()
        cls.db.query(
            "INSERT INTO queue_job_worker (uuid, host, pid, threads, date_started, last_beat)"
            " VALUES ('ov-live', 'overview-live', 101, 4, %(now)s, %(now)s),"
            " ('ov-dead', 'overview-dead', 102, 2, %(now)s, %(old)s)",
            {'now': now, 'old': now - datetime.timedelta(hours=2)})

    def login_as(self, login):
        browser = Browser()
        browser.start()
        self.addCleanup(browser.quit)
        browser.login(self.server, login, login)
        browser.wait_for('.o_background_job_overview_channels')
        browser.wait_idle()
        return browser

    def channel_rows(self, browser):
        return browser.driver.execute_script(CHANNEL_ROWS_JS)

    def test_the_app_opens_on_the_overview_which_stays_current(self):
        browser = self.login_as(MANAGER)
        # the first screen after login, and the app's first menu entry
        action_id = self.db.query("SELECT res_id FROM ir_model_data WHERE module = 'background_job'"
                                  " AND name = 'queue_job_overview_action'")[0][0]
        self.assertRegex(browser.driver.current_url, r'[#&]action=%d(&|$)' % action_id)
        entries = [link.get_attribute('data-menu-xmlid') for link in browser.driver.find_elements(
            By.CSS_SELECTOR, '.o_sub_menu a[data-menu-xmlid]') if link.is_displayed()]
        self.assertEqual(entries[:2], ['background_job.queue_job_overview_menu',
                                       'background_job.queue_job_menu'])

        rows = self.channel_rows(browser)
        self.assertEqual(
            {key: rows[CHANNEL][key] for key in ('pending', 'running', 'failed', 'done_last_hour')},
            {'pending': '3', 'running': '1', 'failed': '2', 'done_last_hour': '4'})
        self.assertRegex(rows[CHANNEL]['oldest_pending'], r'^1\d min$')  # 10 min and the test's time
        self.assertEqual(rows[OTHER]['done_last_hour'], '1')
        self.assertIn('root', rows)

        # one minute with the 5 done jobs, an earlier one with the 2 failed
        chart = browser.driver.execute_script(CHART_JS)
        self.assertEqual(len(chart), 60)
        drawn = [(TITLE.match(title).groups(), done > 0, failed > 0)
                 for title, done, failed in chart if done or failed]
        self.assertEqual(len(drawn), 2, drawn)
        (failed_ago, *failed_counts), (done_ago, *done_counts) = [bar[0] for bar in drawn]
        self.assertEqual((done_counts, failed_counts), (['5', '0'], ['0', '2']))
        self.assertGreater(int(failed_ago), int(done_ago))
        self.assertEqual([bar[1:] for bar in drawn], [(False, True), (True, False)])

        workers = {row.find_element(By.CSS_SELECTOR, 'td[data-field="name"]').text:
                   row.find_element(By.CSS_SELECTOR, 'td[data-field="status"]').text
                   for row in browser.driver.find_elements(
                       By.CSS_SELECTOR, '.o_background_job_overview_workers tbody tr[data-status]')}
        self.assertEqual(workers, {'overview-live:101': 'Live', 'overview-dead:102': 'Dead'})
        browser.screenshot('overview')

        # A job enqueued now shows up without a reload (it refreshes every 3 s).
        with self.db.env(self.manager_id) as env:
            env['background.job.test.record'].search([], limit=1).with_delay(
                channel=CHANNEL).log_run('one more')
        browser.wait_until(lambda driver: self.channel_rows(browser)[CHANNEL]['pending'] == '4',
                           'the pending count to become 4', timeout=30)
        browser.screenshot('refreshed')

        # A count opens the jobs it counts.
        browser.wait_for('tr[data-channel="%s"] a[data-count="failed"]' % CHANNEL).click()
        browser.wait_for('.o_list_view')
        browser.wait_idle()
        self.wait_text(browser, '.o_searchview_facet', 'Failed')
        rows = browser.driver.find_elements(By.CSS_SELECTOR, '.o_list_view .o_data_row')
        self.assertEqual(len(rows), 2)
        self.assertEqual({row.text.split()[0] for row in rows}, {'Failed'})
        browser.screenshot('failed-jobs-of-the-channel')

        # Under the Jobs list, the overview asks the server nothing; back on
        # screen (breadcrumb), it refreshes again; closed (another menu), never.
        def calls():
            return browser.driver.execute_script(OVERVIEW_CALLS_JS)
        hidden = calls()
        time.sleep(7)  # two refresh periods
        self.assertLessEqual(calls() - hidden, 1)  # one may have been under way
        self.click_text(browser, '.o_control_panel .breadcrumb a', 'Overview')
        browser.wait_for('.o_background_job_overview_channels')
        shown = calls()
        browser.wait_until(lambda driver: calls() >= shown + 2, 'two refreshes', timeout=30)
        self.click_menu(browser, 'queue_job_channel_menu')
        browser.wait_for('.o_list_view')
        closed = calls()
        time.sleep(7)
        self.assertLessEqual(calls() - closed, 1)
        browser.check_no_errors()

    def test_a_chinese_manager_sees_the_overview_in_chinese(self):
        browser = self.login_as(ZH_MANAGER)
        headers = [' '.join(th.text.split()) for th in browser.driver.find_elements(
            By.CSS_SELECTOR, '.o_background_job_overview_channels thead th')]
        self.assertEqual(headers[:4], ['频道', '待处理', '运行中', '失败'])
        titles = [h.text for h in browser.driver.find_elements(
            By.CSS_SELECTOR, '.o_background_job_overview_body h3')]
        self.assertEqual(len(titles), 3)
        self.assertTrue(all(re.search(r'[\u4e00-\u9fff]', title) for title in titles), titles)
        self.assertRegex(self.channel_rows(browser)[CHANNEL]['oldest_pending'], r'^1\d 分钟$')
        statuses = {element.text for element in browser.driver.find_elements(
            By.CSS_SELECTOR, '.o_background_job_overview_workers td[data-field="status"]')}
        self.assertEqual(statuses, {'在线', '已失联'})
        menu = browser.driver.find_element(
            By.CSS_SELECTOR, 'a[data-menu-xmlid="background_job.queue_job_overview_menu"]')
        self.assertEqual(menu.text.strip(), '概览')
        browser.screenshot('overview-zh')
        browser.check_no_errors()
