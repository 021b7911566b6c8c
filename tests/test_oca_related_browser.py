"""The job form's related action in the web client: a job method's own
``@related_action`` gives the form a Related button that opens what the
action returns; without one the Records button opens the job's record;
``@related_action()`` shows neither. Screenshots in test-output/."""
import pytest
from selenium.webdriver.common.by import By

from .common import wait_for
from .test_backend_browser import BackendBrowserCase

pytestmark = pytest.mark.server


class TestRelatedActionBrowser(BackendBrowserCase):

    def open_job(self, browser, job_id):
        """The job's form, by its URL, in a page loaded for it (a change of
        the URL's fragment alone would race the action still loading)."""
        browser.open(self.server, '/web#id=%d&model=queue.job&view_type=form' % job_id)
        browser.driver.refresh()
        browser.wait_for('.o_form_view .o_statusbar_status')
        browser.wait_idle()

    def shown_buttons(self, browser):
        return [' '.join(button.text.split()) for button in browser.driver.find_elements(
            By.CSS_SELECTOR, '.o_form_view .o_statusbar_buttons button, .oe_button_box button')
            if button.is_displayed()]

    def test_related_records_and_no_button(self):
        custom = self.enqueue(lambda records: records.create({'name': 'r'}).with_delay()
                              .oca_log('oca-browser'))
        default = self.enqueue(lambda records: records.create({'name': 'rec'}).with_delay(
            eta=86400).oca_multi('oca-browser-records'))
        disabled = self.enqueue(lambda records: records.create({'name': 'none'}).with_delay(
            eta=86400).oca_no_related_action())
        wait_for(lambda: self.job_state(custom) == 'done', 120, message='the job to run')
        browser = self.browser()

        self.open_job(browser, custom)
        self.assertIn('Related', self.shown_buttons(browser))
        self.assertNotIn('1 Records', self.shown_buttons(browser))
        browser.screenshot('job-with-related-action')
        self.click_text(browser, '.o_statusbar_buttons button', 'Related')
        self.wait_text(browser, '.breadcrumb li', 'Logs of the job')
        rows = browser.driver.find_elements(By.CSS_SELECTOR, '.o_list_view .o_data_row')
        self.assertEqual(len(rows), 1)  # the log of its one run
        browser.screenshot('related-action-opened')

        self.open_job(browser, default)
        self.assertNotIn('Related', self.shown_buttons(browser))
        self.click_text(browser, '.oe_button_box button', '1 Records')
        browser.wait_for('.o_form_view input[name="name"], .o_form_view span[name="name"]')
        self.wait_text(browser, '.o_form_view', 'rec')
        browser.screenshot('records-opened')

        self.open_job(browser, disabled)
        shown = self.shown_buttons(browser)
        self.assertNotIn('Related', shown)
        self.assertNotIn('1 Records', shown)
        browser.screenshot('no-related-action')
        browser.check_no_errors()
