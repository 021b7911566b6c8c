"""The admin backend for real: a server whose job threads run, and headless
Chromium logged in as a job queue manager who steers jobs as a user would:
a failed job is notified and counted on the menu, read, requeued and done; a
batch shows its progress; a pending job is cancelled. Every step saves a
screenshot in test-output/<test name>/."""
import re
import unittest

import pytest
from selenium.webdriver.common.by import By

from .browser import Browser
from .common import CommittedDatabase, create_manager
from .odoo_server import OdooServer

pytestmark = pytest.mark.server

MANAGER = 'jq_browser_manager'
FAILED_NOTICE = 'Background job failed'


class BackendBrowserCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.db = CommittedDatabase()
        try:
            cls.prepare_database()
            cls.server = cls.start_server()
        except Exception:
            cls.db.drop()
            raise

    @classmethod
    def prepare_database(cls):
        """Before the server starts: the users and rows the tests need."""
        with cls.db.env() as env:
            cls.manager_id = create_manager(env, 'Queue Manager', MANAGER).id

    @classmethod
    def start_server(cls):
        return OdooServer(cls.db.name, name='TestBackendBrowser').start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.db.drop()

    def enqueue(self, call):
        """``call(records of the manager)`` in a committed transaction."""
        with self.db.env(self.manager_id) as env:
            return call(env['background.job.test.record']).id

    def set_flag(self, record_id, value):
        with self.db.env() as env:
            env['background.job.test.record'].browse(record_id).value = value

    def job_state(self, job_id):
        return self.db.query('SELECT state FROM queue_job WHERE id = %s', (job_id,))[0][0]

    # -- the web client, as clicked by a person -----------------------------------
    def browser(self):
        browser = Browser()
        browser.start()
        self.addCleanup(browser.quit)
        browser.login(self.server, MANAGER, MANAGER)
        return browser

    @staticmethod
    def click_menu(browser, xmlid):
        """Click a menu entry by its XML id (its label may carry a count)."""
        browser.wait_for('a[data-menu-xmlid="background_job.%s"]' % xmlid).click()
        browser.wait_idle()

    @staticmethod
    def click_text(browser, css, text):
        """Click the displayed element matching ``css`` whose text is ``text``
        (found again if the live backend re-rendered it meanwhile)."""
        def click(driver):
            for element in driver.find_elements(By.CSS_SELECTOR, css):
                if element.is_displayed() and ' '.join(element.text.split()) == text:
                    element.click()
                    return True
            return False
        browser.wait_until(click, '%r with text %r' % (css, text))
        browser.wait_idle()

    @staticmethod
    def wait_text(browser, css, pattern, timeout=None):
        """The text of the first displayed ``css`` element matching ``pattern``."""
        def find(driver):
            for element in driver.find_elements(By.CSS_SELECTOR, css):
                if element.is_displayed() and re.search(pattern, element.text):
                    return element.text
            return False
        return browser.wait_until(find, '%r showing %r' % (css, pattern), timeout)

    def status(self, browser):
        return browser.wait_for('.o_statusbar_status .btn-primary').text.strip()

    def wait_status(self, browser, expected, timeout=120):
        """Reload the form until its status bar shows ``expected``: the job
        runs in a worker of the server, not in the browser's request."""
        def shown(driver):
            driver.refresh()
            browser.wait_for('.o_form_view .o_statusbar_status .btn-primary')
            browser.wait_idle()
            return self.status(browser) == expected
        browser.wait_until(shown, 'the status %r' % expected, timeout)


class TestBackendBrowser(BackendBrowserCase):

    def test_a_failed_job_is_notified_found_read_requeued_and_done(self):
        with self.db.env() as env:
            record_id = env['background.job.test.record'].create(
                {'name': 'flag', 'value': 1}).id
        browser = self.browser()
        browser.screenshot('logged-in')

        # The job fails in the server's worker: its user is told at once.
        job_id = self.enqueue(lambda records: records.browse(record_id).with_delay(
            description='Import the flagged record').fail_while_flagged('browser'))
        notice = self.wait_text(browser, '.o_notification',
                                FAILED_NOTICE + ': Import the flagged record', timeout=120)
        self.assertIn('flag is flagged', notice)
        browser.screenshot('failure-notification')
        self.assertEqual(self.job_state(job_id), 'failed')

        # The Jobs menu counts it.
        browser.driver.refresh()
        badge = browser.wait_for('a[data-menu-xmlid="background_job.queue_job_menu"] '
                                 '.o_background_job_failed_badge')
        failed = self.db.query("SELECT count(*) FROM queue_job WHERE state = 'failed'")[0][0]
        self.assertEqual(badge.text, str(failed))  # other tests' failures count too
        browser.screenshot('failed-count-on-menu')

        # Jobs, filtered on Failed.
        self.click_menu(browser, 'queue_job_menu')
        browser.wait_for('.o_list_view')
        browser.wait_for('.o_searchview_facet .o_facet_remove').click()
        browser.wait_idle()
        if not browser._displayed('.o_search_options .o_dropdown_toggler_btn'):
            browser.wait_for('.o_searchview_more').click()  # the filter menus are folded
        self.click_text(browser, '.o_search_options .o_dropdown_toggler_btn', 'Filters')
        self.click_text(browser, '.o_filters_menu a', 'Failed')
        self.wait_text(browser, '.o_searchview_facet', 'Failed')
        rows = [row.text for row in browser.driver.find_elements(
            By.CSS_SELECTOR, '.o_list_view .o_data_row')]
        self.assertEqual(len(rows), failed)
        self.assertEqual({row.split()[0] for row in rows}, {'Failed'})
        self.assertTrue(any('Import the flagged record' in row for row in rows), rows)
        browser.screenshot('jobs-filtered-failed')

        # Its form: the traceback, and the actions that apply to a failed job.
        self.click_text(browser, '.o_list_view .o_data_row td', 'Import the flagged record')
        self.assertEqual(self.status(browser), 'Failed')
        self.click_text(browser, '.o_notebook .nav-tabs a', 'Failure')
        traceback = self.wait_text(browser, '.o_background_job_code', 'Traceback')
        self.assertIn('Traceback (most recent call last)', traceback)
        self.assertIn('ValueError: flag is flagged (value 1)', traceback)
        buttons = browser.displayed_texts('.o_statusbar_buttons button')
        self.assertEqual(buttons, ['Requeue', 'Run Now', 'Set Done'])
        browser.screenshot('failed-job-traceback')

        # The cause is fixed; requeued, the job runs again and is done.
        self.set_flag(record_id, 0)
        self.click_text(browser, '.o_statusbar_buttons button', 'Requeue')
        browser.screenshot('requeued')
        self.wait_status(browser, 'Done')
        self.click_text(browser, '.o_notebook .nav-tabs a', 'Result')
        self.wait_text(browser, '.o_background_job_code', 'ran after the flag was cleared')
        browser.screenshot('done-after-requeue')
        self.assertEqual(self.job_state(job_id), 'done')
        self.assertEqual(self.db.log_count('browser'), 1)
        browser.check_no_errors()

    def test_a_batch_shows_its_progress(self):
        with self.db.env(self.manager_id) as env:
            records = env['background.job.test.record'].create({'name': 'chunk', 'value': -1})
            for value in range(1, 4):
                records |= records.create({'name': 'chunk', 'value': value})
            batch_id = records.batch_chunk.delay_batch('progress', job_size=1).id
        browser = self.browser()
        self.click_menu(browser, 'queue_job_batch_menu')
        row = self.wait_text(browser, '.o_list_view .o_data_row', 'batch of 4 records')
        browser.screenshot('batches')
        self.click_text(browser, '.o_list_view .o_data_row td',
                        self.db.query('SELECT name FROM queue_job WHERE id = %s',
                                      (batch_id,))[0][0])
        # one chunk fails on purpose (negative value), three are done
        self.wait_status(browser, 'Done')
        progress = browser.wait_for('.o_form_view .o_progressbar').text
        self.assertIn('100', progress)
        values = browser.driver.execute_script("""
            var result = {};
            document.querySelectorAll('.o_form_view td.o_td_label label').forEach(function (label) {
                var cell = label.closest('td').nextElementSibling;
                result[label.textContent.trim()] = cell ? cell.textContent.trim() : '';
            });
            return result;""")
        self.assertEqual((values['Jobs'], values['Done Jobs'], values['Failed Jobs'],
                          values['Batch State']), ('4', '3', '1', 'Done with failures'))
        children = browser.driver.find_elements(By.CSS_SELECTOR,
                                                '.o_form_view .o_field_one2many .o_data_row')
        self.assertEqual(sorted(row.text.split()[0] for row in children),
                         ['Done', 'Done', 'Done', 'Failed'])
        browser.screenshot('batch-progress')
        browser.check_no_errors()
        self.assertIn('batch of 4 records', row)

    def test_a_pending_job_is_cancelled_and_never_runs(self):
        job_id = self.enqueue(lambda records: records.create({'name': 'later'}).with_delay(
            eta=86400, description='Send the weekly report').log_run('cancelled'))
        browser = self.browser()
        self.click_menu(browser, 'queue_job_menu')
        self.wait_text(browser, '.o_list_view .o_data_row', 'Send the weekly report')
        browser.screenshot('jobs-default-filter')
        self.click_text(browser, '.o_list_view .o_data_row td', 'Send the weekly report')
        self.assertEqual(self.status(browser), 'Pending')
        browser.screenshot('pending-job')
        self.click_text(browser, '.o_statusbar_buttons button', 'Cancel Job')
        self.click_text(browser, '.modal-footer button', 'Ok')
        self.wait_text(browser, '.o_statusbar_status .btn-primary', 'Cancelled')
        buttons = [button.text for button in browser.driver.find_elements(
            By.CSS_SELECTOR, '.o_statusbar_buttons button') if button.is_displayed()]
        self.assertEqual(buttons, ['Requeue'])
        browser.screenshot('cancelled')
        self.assertEqual(self.job_state(job_id), 'cancelled')
        self.assertEqual(self.db.log_count('cancelled'), 0)
        browser.check_no_errors()

    def test_channels_and_workers_show_load_capacity_and_dead_workers(self):
        self.db.query("""
            INSERT INTO queue_job_worker (uuid, host, pid, threads, date_started, last_beat)
            VALUES ('gone', 'lost-host', 4242, 2, now() AT TIME ZONE 'UTC' - interval '2 hours',
                    now() AT TIME ZONE 'UTC' - interval '1 hour')""")
        # runs for 30 s in the server's worker: long enough to be seen running
        job_id = self.enqueue(lambda records: records.create({'name': 'slow'}).with_delay(
            description='Rebuild the slow report').sleep_and_log('slow', 30))
        browser = self.browser()
        browser.wait_until(lambda driver: self.job_state(job_id) == 'started', 'the slow job to run')

        self.click_menu(browser, 'queue_job_channel_menu')
        root = self.wait_text(browser, '.o_list_view .o_data_row', r'^root\b')
        self.assertEqual(root.split()[-2:], ['1', '0'], 'root runs one job, none pending')
        browser.screenshot('channels')
        # capacity is edited in place
        self.click_text(browser, '.o_list_view .o_data_row td', 'root')
        capacity = browser.wait_for('.o_list_view .o_selected_row input[name="capacity"]')
        capacity.clear()
        capacity.send_keys('7')
        browser.screenshot('channel-capacity-edited')
        browser.wait_for('.o_list_buttons .o_list_button_save').click()
        browser.wait_idle()
        browser.wait_until(lambda driver: self.db.query(
            "SELECT capacity FROM queue_job_channel WHERE name = 'root'")[0][0] == 7,
            'the new capacity saved')

        self.click_menu(browser, 'queue_job_worker_menu')
        rows = [row.text for row in browser.wait_until(lambda driver: [
            row for row in driver.find_elements(By.CSS_SELECTOR, '.o_list_view .o_data_row')
            if 'Live' in row.text or 'Dead' in row.text], 'worker rows')]
        dead = [row for row in rows if 'lost-host' in row]
        self.assertEqual(len(dead), 1)
        self.assertIn('Dead', dead[0])
        live = [row for row in rows if 'Live' in row]
        self.assertEqual(len(live), 1, rows)
        self.assertTrue(live[0].endswith(' 1'), 'the live worker runs the slow job: %r' % live)
        browser.screenshot('workers')
        live_row = [row for row in browser.driver.find_elements(
            By.CSS_SELECTOR, '.o_list_view .o_data_row') if 'Live' in row.text][0]
        live_row.find_element(By.CSS_SELECTOR, 'td.o_data_cell').click()  # its host
        browser.wait_idle()
        self.wait_text(browser, '.o_form_view .o_field_one2many', 'Rebuild the slow report')
        browser.screenshot('worker-running-a-job')
        browser.check_no_errors()

    def test_a_paused_channel_shows_a_banner_on_the_jobs_list_until_resumed(self):
        with self.db.env() as env:
            env['queue.job.channel'].create({'name': 'root.claimfx_banner'})
        self.addCleanup(self.db.query, 'UPDATE queue_job_channel SET paused = false')

        def paused():
            return sorted(name for name, in self.db.query(
                'SELECT name FROM queue_job_channel WHERE paused'))

        def banner(driver):
            found = [element.text for element in driver.find_elements(
                By.CSS_SELECTOR, '.o_background_job_paused_banner') if element.is_displayed()]
            return found[0] if found else False

        def channel_button(title):
            self.click_menu(browser, 'queue_job_channel_menu')
            # an earlier test's failure notification may cover the row's buttons
            for close in browser.driver.find_elements(By.CSS_SELECTOR, '.o_notification .o_close'):
                if close.is_displayed():
                    close.click()
            row = browser.wait_until(lambda driver: [
                row for row in driver.find_elements(By.CSS_SELECTOR, '.o_list_view .o_data_row')
                if row.text.split()[:1] == ['root.claimfx_banner']], 'the channel row')[0]
            row.find_element(By.CSS_SELECTOR, 'button[title="%s"]' % title).click()
            browser.wait_idle()

        browser = self.browser()
        self.click_menu(browser, 'queue_job_menu')
        self.assertFalse(banner(browser.driver))
        channel_button('Pause')
        browser.wait_until(lambda driver: paused() == ['root.claimfx_banner'], 'the pause saved')
        self.click_menu(browser, 'queue_job_menu')
        text = browser.wait_until(banner, 'the paused-channel banner')
        self.assertIn('Paused channels: root.claimfx_banner.', text)
        browser.screenshot('jobs-list-banner')
        channel_button('Resume')
        browser.wait_until(lambda driver: paused() == [], 'the resume saved')
        self.click_menu(browser, 'queue_job_menu')
        self.assertFalse(banner(browser.driver))
        # before an upgrade: everything at once
        self.click_menu(browser, 'queue_job_channel_pause_all_menu')
        browser.wait_until(lambda driver: paused() == ['root'], 'root paused')
        self.click_menu(browser, 'queue_job_menu')
        self.assertIn('Paused channels: root.', browser.wait_until(banner, 'the banner'))
        self.click_menu(browser, 'queue_job_channel_resume_all_menu')
        browser.wait_until(lambda driver: paused() == [], 'every channel resumed')
        browser.check_no_errors()
