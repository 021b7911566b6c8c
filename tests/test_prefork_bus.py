"""Live notifications on a prefork server: the web client's long poll is
served by Odoo's longpolling (gevent) process on its own port, behind a
reverse proxy as in a deployment, and a job's failure reaches the browser of
the user who enqueued it while the page stays open."""
import os
import subprocess
import unittest

import pytest
from selenium.webdriver.common.by import By

from .browser import Browser
from .common import CommittedDatabase
from .odoo_server import BIN, OdooServer, wait_until
from .proxy import LongpollingProxy

USER = 'jq_prefork_user'
LONGPOLLING_READY = 'Evented Service (longpolling) running on'
CRASH_SIGNS = ('DistributionNotFound', 'Traceback (most recent call last)')


class TestGevent(unittest.TestCase):

    def test_monkey_patching_works_in_the_virtualenv(self):
        # What `odoo gevent` (the longpolling process) does first.
        result = subprocess.run(
            [os.path.join(BIN, 'python'), '-c', 'import gevent.monkey; gevent.monkey.patch_all()'],
            capture_output=True, text=True, timeout=60)
        self.assertEqual((result.returncode, result.stderr), (0, ''))


@pytest.mark.server
class TestPreforkBus(unittest.TestCase):

    def setUp(self):
        self.db = CommittedDatabase()
        self.addCleanup(self.db.drop)
        with self.db.env() as env:
            self.user_id = env['res.users'].create({
                'name': 'Prefork User', 'login': USER, 'password': USER,
                'groups_id': [(6, 0, [env.ref('base.group_user').id])]}).id
            self.record_id = env['background.job.test.record'].create(
                {'name': 'prefork flag', 'value': 1}).id

    def crash_lines(self, server):
        """Signs of a crashing longpolling process: it dies while importing
        odoo (gevent's monkey patching), before its logging is set up, so its
        traceback goes to the console."""
        lines = server.console_text().splitlines() + [
            line for line in server.log_text().splitlines() if 'DistributionNotFound' in line]
        return [line for line in lines if any(sign in line for sign in CRASH_SIGNS)]

    def test_a_failed_job_is_notified_live_through_the_longpolling_port(self):
        server = OdooServer(self.db.name, '--workers=2').start()
        self.addCleanup(server.stop)
        proxy = LongpollingProxy(server).start()
        self.addCleanup(proxy.stop)
        # The gevent process is forked by the arbiter; it logs once it listens.
        wait_until(lambda: LONGPOLLING_READY in server.log_text() or self.crash_lines(server),
                   60, 'the longpolling process to start')
        self.assertEqual(self.crash_lines(server), [], server.log_tail())
        self.assertIn('%s 127.0.0.1:%d' % (LONGPOLLING_READY, server.longpolling_port),
                      server.log_text())

        with Browser() as browser:
            browser.login(proxy, USER, USER)
            browser.screenshot('logged-in')
            with self.db.env(self.user_id) as env:
                job_id = env['background.job.test.record'].browse(self.record_id).with_delay(
                    description='Import the prefork record').fail_while_flagged('prefork').id
            # Shown without reloading the page: the open long poll answers.
            notice = browser.wait_until(
                lambda driver: next((element.text for element in driver.find_elements(
                    By.CSS_SELECTOR, '.o_notification')
                    if 'Import the prefork record' in element.text), False),
                'the failure notification', timeout=90)
            browser.screenshot('failure-notification')
            self.assertIn('Background job failed: Import the prefork record', notice)
            self.assertIn('prefork flag is flagged (value 1)', notice)
            browser.check_no_errors()

        self.assertEqual(self.db.query('SELECT state FROM queue_job WHERE id = %s',
                                       (job_id,))[0][0], 'failed')
        # The notification came through the longpolling process (gevent's
        # access log goes to the console) ...
        self.assertIn('"POST /longpolling/poll HTTP/1.1" 200', server.console_text())
        # ... which ran all along: no crash loop, no traceback.
        self.assertEqual(self.crash_lines(server), [], server.log_tail())
        self.assertEqual(server.log_text().count(LONGPOLLING_READY), 1, server.log_tail())
