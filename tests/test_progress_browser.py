"""The live backend in Chromium: progress bars move in the open Jobs and
Batches lists and in a job's form, a finished job shows as done, and the
failed-jobs badge counts a new failure, each within about 2 s and without
reloading the page (a marker set in the page survives). Screenshots in
test-output/<test name>/."""
import re
import time

import pytest
from selenium.webdriver.common.by import By

from .test_backend_browser import BackendBrowserCase

pytestmark = pytest.mark.server

MODEL = 'background.job.test.record'
# set in the page: gone if the page is reloaded
KEEP = "window.backgroundJobNoReload = 'kept';"
KEPT = "return window.backgroundJobNoReload === 'kept';"


class TestLiveBackendBrowser(BackendBrowserCase):

    def live_browser(self):
        browser = self.browser()
        browser.driver.execute_script(KEEP)
        return browser

    def assert_not_reloaded(self, browser):
        self.assertTrue(browser.driver.execute_script(KEPT), 'the page was reloaded')

    def show_all_jobs(self, browser):
        """Jobs, without the default filter (done jobs stay listed)."""
        self.click_menu(browser, 'queue_job_menu')
        browser.wait_for('.o_list_view')

        def removed(driver):
            facet = browser._displayed('.o_searchview_facet .o_facet_remove')
            if facet:
                facet.click()
            return not facet
        browser.wait_until(removed, 'the default filter removed')
        browser.wait_idle()

    @staticmethod
    def row_cell(browser, text, css):
        """Text of ``css`` in the list row that shows ``text`` (None: no such
        row), read in one script: the live list may be re-rendered meanwhile."""
        return browser.driver.execute_script("""
            var rows = document.querySelectorAll('.o_list_view .o_data_row');
            for (var i = 0; i < rows.length; i++) {
                if (rows[i].textContent.indexOf(arguments[0]) >= 0) {
                    var cell = rows[i].querySelector(arguments[1]);
                    return cell ? cell.textContent.trim() : '';
                }
            }
            return null;""", text, css)

    @staticmethod
    def form_status_and_progress(browser):
        """'<status> | <progress bar text>' of the open form (one script)."""
        return browser.driver.execute_script("""
            var status = document.querySelector('.o_form_view .o_statusbar_status .btn-primary');
            var bar = Array.prototype.find.call(  // the job's, not the hidden batch one
                document.querySelectorAll('.o_form_view .o_progressbar'),
                function (element) { return element.offsetParent !== null; });
            return status && bar && status.textContent.trim() + ' | ' + bar.textContent.trim();""")

    def watch(self, browser, read, until, timeout, shot):
        """The distinct values ``read()`` gives until ``until(value)``, each
        new one screenshotted as ``shot-N``."""
        seen, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = read()
            if value and value not in seen:
                seen.append(value)
                browser.screenshot('%s-%d' % (shot, len(seen)))
            if until(value):
                return seen
            time.sleep(0.1)
        raise AssertionError('waited %ss; seen %r' % (timeout, seen))

    def test_progress_bars_move_in_the_open_list_and_form_without_reload(self):
        browser = self.live_browser()
        self.click_menu(browser, 'queue_job_menu')
        browser.wait_for('.o_list_view')
        job_id = self.enqueue(lambda records: records.create({'name': 'prices'}).with_delay(
            description='Import the price list').progress_steps('list', 10, 0.8))
        percents = self.watch(
            browser, lambda: self.row_cell(browser, 'Import the price list', '.o_progressbar_value'),
            lambda value: value and int(value.rstrip('%')) >= 40, 60, 'list-progress')
        self.assertGreaterEqual(len([p for p in percents if p not in ('0%', '100%')]), 2, percents)
        self.assert_not_reloaded(browser)

        self.click_text(browser, '.o_list_view .o_data_row td', 'Import the price list')
        messages = self.watch(
            browser, lambda: self.form_status_and_progress(browser),
            lambda value: value and value.startswith('Done'), 60, 'form-progress')
        running = [int(m.split('| ')[1].rstrip('%')) for m in messages if m.startswith('Running')]
        self.assertTrue([percent for percent in running if 40 <= percent < 100], messages)
        self.assertEqual(messages[-1], 'Done | 100%')
        self.assertEqual(self.job_state(job_id), 'done')
        self.assert_not_reloaded(browser)
        browser.check_no_errors()

    def test_a_batch_progress_bar_counts_its_running_jobs(self):
        browser = self.live_browser()
        self.click_menu(browser, 'queue_job_batch_menu')
        browser.wait_for('.o_list_view')
        with self.db.env(self.manager_id) as env:
            records = env[MODEL].create({'name': 'chunk'}) | env[MODEL].create({'name': 'chunk'})
            records.progress_steps.delay_batch('batch', 5, 0.8, job_size=1)
        percents = self.watch(
            browser, lambda: self.row_cell(browser, 'batch of 2 records', '.o_progressbar_value'),
            lambda value: value == '100%', 90, 'batch-progress')
        partial = [p for p in percents if p not in ('0%', '50%', '100%')]
        self.assertGreaterEqual(len(partial), 2, 'running jobs count by their progress: %s'
                                % percents)
        self.assert_not_reloaded(browser)
        browser.check_no_errors()

    def test_the_workers_list_counts_a_running_job_as_it_starts_and_ends(self):
        browser = self.live_browser()
        self.click_menu(browser, 'queue_job_worker_menu')
        # the Running column of the live worker's row
        running = "var row = Array.from(document.querySelectorAll('.o_list_view .o_data_row'))" \
                  ".find(function (row) { return row.textContent.indexOf('Live') >= 0; });" \
                  "return row && row.querySelector('td:last-child').textContent.trim();"
        browser.wait_until(lambda driver: driver.execute_script(running) == '0', 'a live worker')
        job_id = self.enqueue(lambda records: records.create({'name': 'slow'}).with_delay(
            description='Count the stock').sleep_and_log('workers', 4))
        started_at = self.wait_state_in_database(job_id, 'started')
        browser.wait_until(lambda driver: driver.execute_script(running) == '1',
                           'the live worker running 1 job', timeout=10)
        shown = time.monotonic() - started_at
        browser.screenshot('worker-runs-a-job')
        done_at = self.wait_done_in_database(job_id)
        browser.wait_until(lambda driver: driver.execute_script(running) == '0',
                           'the live worker running none', timeout=10)
        ended = time.monotonic() - done_at
        browser.screenshot('worker-idle-again')
        self.assertLess(max(shown, ended), 2.5, (shown, ended))
        self.assert_not_reloaded(browser)
        browser.check_no_errors()

    def test_a_finished_job_and_a_new_failure_show_within_2_seconds(self):
        browser = self.live_browser()
        self.show_all_jobs(browser)
        job_id = self.enqueue(lambda records: records.create({'name': 'soon'}).with_delay(
            description='Close the day').sleep_and_log('live', 2))
        self.wait_text(browser, '.o_list_view .o_data_row', 'Close the day', timeout=10)
        done_at = self.wait_done_in_database(job_id)
        self.wait_text(browser, '.o_list_view .o_data_row', r'(?s)^Done\b.*Close the day',
                       timeout=10)
        shown = time.monotonic() - done_at
        browser.screenshot('done-without-reload')
        self.assertLess(shown, 2.5, 'the list showed the job done %.1f s after it finished'
                        % shown)
        print('live backend: a finished job shown after %.2f s' % shown)

        # rows selected to act on: the list waits until they are unselected
        self.toggle_row(browser, 'Close the day')
        other_id = self.enqueue(lambda records: records.create({'name': 'next'}).with_delay(
            description='Open the day').log_run('live'))
        self.wait_done_in_database(other_id)
        time.sleep(2.5)
        self.assertIsNone(self.row_cell(browser, 'Open the day', 'td'))
        self.assertEqual(self.row_cell(browser, 'Close the day',
                                       '.o_list_record_selector input:checked'), '')
        browser.screenshot('selected-rows-kept')
        self.toggle_row(browser, 'Close the day')
        self.wait_text(browser, '.o_list_view .o_data_row', 'Open the day', timeout=5)
        browser.screenshot('unselected-then-reloaded')

        badge = 'a[data-menu-xmlid="background_job.queue_job_menu"] .o_background_job_failed_badge'
        before = int(browser._displayed(badge).text) if browser._displayed(badge) else 0
        failed_id = self.enqueue(lambda records: records.create({'name': 'bad'}).with_delay(
            description='Give up at once').fail_hard('live'))
        failed_at = self.wait_state_in_database(failed_id, 'failed')
        browser.wait_until(lambda driver: browser._displayed(badge)
                           and browser._displayed(badge).text == str(before + 1),
                           'the badge to count %d failed jobs' % (before + 1), timeout=10)
        counted = time.monotonic() - failed_at
        browser.screenshot('badge-without-reload')
        self.assertLess(counted, 2.5, 'the badge counted the failure after %.1f s' % counted)
        print('live backend: a failure counted on the badge after %.2f s' % counted)
        self.assert_not_reloaded(browser)

        # Channels: not a live view, but the badge still follows the jobs
        self.click_menu(browser, 'queue_job_channel_menu')
        for _ in range(3):
            self.db.query("SELECT nextval('background_job_job_changes')")
            time.sleep(1.2)
        browser.check_no_errors()

    @staticmethod
    def toggle_row(browser, text):
        """Click the checkbox of the list row that shows ``text``."""
        browser.driver.execute_script("""
            var text = arguments[0];
            document.querySelectorAll('.o_list_view .o_data_row').forEach(function (row) {
                if (row.textContent.indexOf(text) >= 0) {
                    row.querySelector('.o_list_record_selector input').click();
                }
            });""", text)

    def wait_done_in_database(self, job_id):
        return self.wait_state_in_database(job_id, 'done')

    def wait_state_in_database(self, job_id, state, timeout=60):
        """When (time.monotonic()) the job reached ``state``, polled every 20 ms."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.job_state(job_id) == state:
                return time.monotonic()
            time.sleep(0.02)
        raise AssertionError('job %s not %s after %ss' % (job_id, state, timeout))
