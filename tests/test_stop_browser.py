"""Stop in the backend, clicked in headless Chromium by a job queue manager:
a running job is stopped from its form (after a confirmation), another from
its row in the Jobs list; each ends cancelled within 2 s, "stopped by" the manager, its work
rolled back. Screenshots in test-output/<test name>/."""
import time

import pytest
from selenium.webdriver.common.by import By

from .test_backend_browser import BackendBrowserCase

pytestmark = pytest.mark.server


class TestStopBrowser(BackendBrowserCase):

    def running_job(self, description):
        job_id = self.enqueue(lambda records: records.create({'name': 'stuck'}).with_delay(
            description=description).limits_deaf_sleep('browser-stop'))
        deadline = time.monotonic() + 60
        while self.job_state(job_id) != 'started' and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.job_state(job_id), 'started')
        return job_id

    def click_and_time(self, browser, click, job_id):
        """``click()``; seconds from the click until the job is cancelled."""
        clicked = time.monotonic()
        click()
        deadline = clicked + 10
        while self.job_state(job_id) != 'cancelled' and time.monotonic() < deadline:
            time.sleep(0.02)
        return time.monotonic() - clicked

    def test_a_manager_stops_running_jobs_from_the_form_and_the_list(self):
        form_job = self.running_job('Rebuild the stuck report')
        browser = self.browser()
        self.click_menu(browser, 'queue_job_menu')
        self.click_text(browser, '.o_list_view .o_data_row td', 'Rebuild the stuck report')
        self.assertEqual(self.status(browser), 'Running')
        buttons = [button.text for button in browser.driver.find_elements(
            By.CSS_SELECTOR, '.o_statusbar_buttons button') if button.is_displayed()]
        self.assertEqual(buttons, ['Stop'])
        browser.screenshot('running-job')
        self.click_text(browser, '.o_statusbar_buttons button', 'Stop')
        self.wait_text(browser, '.modal-body', 'Stop this running job')
        took = self.click_and_time(browser, lambda: self.click_text(
            browser, '.modal-footer button', 'Ok'), form_job)
        print('stopped from the form: cancelled %.2f s after the click' % took)
        self.assertLess(took, 2.0)
        self.wait_status(browser, 'Cancelled', timeout=30)
        self.click_text(browser, '.o_notebook .nav-tabs a', 'Failure')
        self.wait_text(browser, '.o_form_view', 'stopped by Queue Manager')
        browser.screenshot('stopped-from-the-form')

        list_job = self.running_job('Resend the stuck mails')
        self.click_menu(browser, 'queue_job_menu')
        row = browser.wait_until(lambda driver: [
            row for row in driver.find_elements(By.CSS_SELECTOR, '.o_list_view .o_data_row')
            if 'Resend the stuck mails' in row.text], 'the running job\'s row')[0]
        took = self.click_and_time(browser, row.find_element(
            By.CSS_SELECTOR, 'button[title="Stop"]').click, list_job)
        print('stopped from the list: cancelled %.2f s after the click' % took)
        self.assertLess(took, 2.0)
        browser.screenshot('stopped-from-the-list')
        self.assertEqual(self.db.query(
            'SELECT state, exc_message FROM queue_job WHERE id = ANY(%s)', ([form_job, list_job],)),
            [('cancelled', 'stopped by Queue Manager')] * 2)
        self.assertEqual(self.db.log_count('browser-stop'), 0)
        browser.check_no_errors()
