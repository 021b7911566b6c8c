"""Headless Chromium driven by selenium, for tests against an OdooServer.

Helper module, no tests in it::

    with OdooServer(db) as server, Browser() as browser:
        browser.login(server, 'admin', 'admin')
        browser.click_menu('Job Queue')
        browser.screenshot('job-queue')

Screenshots (numbered PNGs) and chromedriver's log go to
``test-output/<test name>/``, next to the server's log. When the ``with``
block fails, a last screenshot ``failure`` is taken before Chromium quits.
"""
import os
import re
import shutil
import tempfile

from selenium import webdriver
from selenium.common.exceptions import (
    NoAlertPresentException, StaleElementReferenceException, TimeoutException,
    UnexpectedAlertPresentException, WebDriverException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from .odoo_server import test_output_dir

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
CHROMIUM_ARGS = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                 '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--window-size=1400,900')
# Texts that mean the page shows an error: the web client's crash dialog,
# and the asset bundle's message when lessc could not run.
ERROR_TEXTS = ('Odoo Server Error', 'Could not execute command', 'Style error')
ERROR_SELECTORS = ('.o_dialog_error', '.o_error_detail')


class BrowserError(AssertionError):
    pass


class Browser:
    """A headless Chromium with a fresh profile. ``timeout``: default wait of
    ``wait_for`` and friends; ``page_load_timeout``: for ``driver.get`` (the
    first backend page compiles the stylesheets with lessc)."""

    def __init__(self, name=None, timeout=60, page_load_timeout=180):
        self.output_dir = test_output_dir(name)
        self.timeout = timeout
        self.page_load_timeout = page_load_timeout
        self.driver = None
        self.profile_dir = None
        self._shots = 0

    # -- lifecycle
    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and self.driver is not None:
            try:
                self._dismiss_alert()
                self.screenshot('failure')
            except Exception:  # the browser may be what failed
                pass
        self.quit()

    def start(self):
        self.profile_dir = tempfile.mkdtemp(prefix='bj-chromium-')
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in CHROMIUM_ARGS:
            options.add_argument(arg)
        options.add_argument('--user-data-dir=' + self.profile_dir)
        # Leave alerts open: check_no_errors reads and reports them.
        options.unhandled_prompt_behavior = 'ignore'
        options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
        service = Service(CHROMEDRIVER, service_args=['--log-level=WARNING'],
                          log_output=os.path.join(self.output_dir, 'chromedriver.log'))
        try:
            self.driver = webdriver.Chrome(service=service, options=options)
        except Exception:
            shutil.rmtree(self.profile_dir, ignore_errors=True)
            raise
        self.driver.set_page_load_timeout(self.page_load_timeout)
        return self

    def quit(self):
        if self.driver is not None:
            try:
                self.driver.quit()
            finally:
                self.driver = None
        if self.profile_dir:
            shutil.rmtree(self.profile_dir, ignore_errors=True)
            self.profile_dir = None

    # -- navigation
    def open(self, server, path='/web'):
        """Load ``server.url(path)`` (or ``path`` on a URL string)."""
        url = server.url(path) if hasattr(server, 'url') else server.rstrip('/') + path
        self.driver.get(url)

    def login(self, server, login='admin', password='admin'):
        """Log in through /web/login and wait until the backend's menu shows."""
        self.open(server, '/web/login')
        self.wait_for('form.oe_login_form input[name="login"]').send_keys(login)
        self.driver.find_element(By.CSS_SELECTOR, 'form.oe_login_form input[name="password"]') \
            .send_keys(password)
        self.driver.find_element(By.CSS_SELECTOR, 'form.oe_login_form button[type="submit"]').click()
        self.wait_until(
            lambda driver: (self._displayed('.oe_application_menu_placeholder')
                            or self._displayed('.oe_login_form .alert-danger')),
            'the backend menu after logging in')
        error = self._displayed('.oe_login_form .alert-danger')
        if error:
            raise BrowserError('login as %s failed: %s' % (login, error.text))
        self.wait_idle()
        self.check_no_errors()

    def click_menu(self, text):
        """Click the visible menu entry (app in the top bar, or entry in the
        left menu) whose label is ``text`` (opening the top bar's "More" when
        the app went there), then wait until the web client shows it: the
        entry is marked active, the URL names its action if it has one, and
        no request is pending."""
        def find(driver):
            for link in driver.find_elements(By.CSS_SELECTOR, '#oe_main_menu_navbar a, .o_sub_menu a'):
                try:
                    if link.is_displayed() and ' '.join(link.text.split()) == text:
                        return link
                except StaleElementReferenceException:
                    continue
            more = self._displayed('#menu_more_container > a')
            if more and not self._displayed('#menu_more'):
                more.click()
            return False
        link = self.wait_until(find, 'menu entry %r' % text)
        menu, action = link.get_attribute('data-menu'), link.get_attribute('data-action-id')
        link.click()
        if menu:
            # The web client marks the parent of the opened menu's link active.
            self.wait_until(
                lambda driver: any('active' in (item.get_attribute('class') or '').split()
                                   for item in driver.find_elements(
                                       By.XPATH, '//a[@data-menu="%s"]/..' % menu)),
                'menu %r to become active' % text)
        if action:
            pattern = re.compile(r'[#&]action=%s(&|$)' % re.escape(action))
            self.wait_until(lambda driver: pattern.search(driver.current_url),
                            'the URL to show action %s of menu %r' % (action, text))
        self.wait_idle()

    def wait_idle(self, timeout=None):
        """Wait until the web client has no request pending (its "Loading"
        indicator is hidden)."""
        self.wait_until(lambda driver: not self._displayed('.o_loading'),
                        'pending requests to finish', timeout)

    # -- waiting
    def wait_until(self, condition, what, timeout=None):
        """Wait until ``condition(driver)`` is truthy and return its value;
        on timeout raise BrowserError naming ``what``, after reporting any
        error the page shows."""
        try:
            return WebDriverWait(self.driver, timeout or self.timeout, poll_frequency=0.2,
                                 ignored_exceptions=(StaleElementReferenceException,)) \
                .until(condition)
        except UnexpectedAlertPresentException:
            self.check_no_errors()
            raise
        except TimeoutException:
            self.check_no_errors()
            shot = self.screenshot('timeout')
            raise BrowserError('waited %ss for %s (screenshot %s)'
                               % (timeout or self.timeout, what, shot)) from None

    def wait_for(self, css, timeout=None):
        """The first displayed element matching ``css``, once there is one."""
        return self.wait_until(lambda driver: self._displayed(css), 'an element %r' % css, timeout)

    def _displayed(self, css):
        for element in self.driver.find_elements(By.CSS_SELECTOR, css):
            try:
                if element.is_displayed():
                    return element
            except StaleElementReferenceException:
                continue
        return None

    def displayed_texts(self, css, attempts=20):
        """The texts of the displayed elements matching ``css``, read again
        when the live backend re-renders the view while they are read."""
        for _ in range(attempts):
            try:
                return [' '.join(element.text.split()) for element in
                        self.driver.find_elements(By.CSS_SELECTOR, css) if element.is_displayed()]
            except StaleElementReferenceException:
                continue
        raise BrowserError('%s kept being re-rendered while read' % css)

    # -- looking
    def screenshot(self, step_name):
        """Save ``NN-step_name.png`` in the test's output folder; return its path."""
        self._shots += 1
        name = '%02d-%s.png' % (self._shots, re.sub(r'[^A-Za-z0-9_.-]+', '-', step_name).strip('-'))
        path = os.path.join(self.output_dir, name)
        self.driver.save_screenshot(path)
        return path

    def computed_style(self, css, prop):
        """getComputedStyle of the first element matching ``css``."""
        element = self.driver.find_element(By.CSS_SELECTOR, css)
        return self.driver.execute_script(
            'return window.getComputedStyle(arguments[0]).getPropertyValue(arguments[1]);',
            element, prop)

    def page_text(self):
        return self.driver.find_element(By.TAG_NAME, 'body').text

    def console_errors(self):
        """SEVERE entries of the browser console since the last call."""
        return [entry['message'] for entry in self.driver.get_log('browser')
                if entry.get('level') == 'SEVERE']

    def errors(self):
        """What the page shows as errors: an open alert (lessc failures
        raise one), an error dialog, known error texts. Empty when fine."""
        found = []
        alert = self._dismiss_alert()
        if alert is not None:
            found.append('alert: %s' % alert)
        for css in ERROR_SELECTORS:
            element = self._displayed(css)
            if element:
                found.append('%s: %s' % (css, element.text[:2000]))
        text = self.page_text()
        found += ['page text: %r' % needle for needle in ERROR_TEXTS if needle in text]
        return found

    def check_no_errors(self):
        """Raise BrowserError (with a screenshot) when the page shows an error."""
        found = self.errors()
        if found:
            shot = self.screenshot('error')
            raise BrowserError('the page shows an error (screenshot %s):\n%s'
                               % (shot, '\n'.join(found)))

    def _dismiss_alert(self):
        """Text of the open alert, which is accepted; None if none."""
        try:
            alert = self.driver.switch_to.alert
            text = alert.text
            alert.accept()
            return text
        except NoAlertPresentException:
            return None
        except WebDriverException:
            return None

