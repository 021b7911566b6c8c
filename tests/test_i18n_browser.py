"""The backend in Chinese, for real: zh_CN is installed in a committed
database (loading every module's i18n/zh_CN.po, ours included), a job queue
manager whose language is zh_CN logs in with headless Chromium and sees the
Job Queue menus, a failure notification and the failed job's form in
Chinese. Screenshots in test-output/<test name>/."""
import pytest
from selenium.webdriver.common.by import By

from .browser import Browser
from .common import create_manager
from .odoo_server import OdooServer
from .test_backend_browser import BackendBrowserCase

pytestmark = pytest.mark.server

MANAGER = 'jq_zh_manager'


class TestChineseBackend(BackendBrowserCase):

    @classmethod
    def prepare_database(cls):
        cls.db.load_language('zh_CN')
        with cls.db.env() as env:
            cls.manager_id = create_manager(env, 'Queue Manager (zh)', MANAGER,
                                            lang='zh_CN').id

    @classmethod
    def start_server(cls):
        return OdooServer(cls.db.name, name='TestChineseBackend').start()

    @staticmethod
    def displayed_texts(browser, css):
        return browser.displayed_texts(css)

    def test_a_chinese_user_sees_menus_failure_and_job_form_in_chinese(self):
        with self.db.env() as env:
            record_id = env['background.job.test.record'].create({'name': 'flag', 'value': 1}).id
        browser = self.login()

        # The app (the manager's only one, open at login) and its menus.
        app = browser.driver.find_element(
            By.CSS_SELECTOR, 'a[data-menu-xmlid="background_job.background_job_menu_root"]')
        self.assertEqual(' '.join(app.get_attribute('textContent').split()), '作业队列')
        menus = self.displayed_texts(browser, '.o_sub_menu a')
        for label in ('批次', '频道', '工作进程'):
            self.assertIn(label, menus)
        self.assertTrue(any(text.split()[:1] == ['作业'] for text in menus), menus)  # may carry a count
        browser.wait_for('.o_background_job_overview')  # the app's first screen
        self.click_menu(browser, 'queue_job_menu')
        browser.wait_for('.o_list_view')
        self.wait_text(browser, '.o_searchview_facet', '待处理、运行中或失败')  # default filter
        browser.screenshot('job-queue-menus')

        # A job of the user fails in the server's worker: the notice is in Chinese.
        job_id = self.enqueue(lambda records: records.browse(record_id).with_delay(
            description='Import the flagged record').fail_while_flagged('zh'))
        notice = self.wait_text(browser, '.o_notification',
                                '后台作业失败：Import the flagged record', timeout=120)
        self.assertIn('flag is flagged', notice)  # the job's own message, as raised
        self.assertIn('打开作业', notice)
        browser.screenshot('failure-notification')

        # Its form, opened from the notice.
        self.click_text(browser, '.o_notification a', '打开作业')
        browser.wait_for('.o_form_view .o_statusbar_status')
        self.assertEqual(self.status(browser), '失败')
        buttons = self.displayed_texts(browser, '.o_statusbar_buttons button')
        self.assertEqual(buttons, ['重新排队', '立即运行', '设为完成'])
        labels = self.displayed_texts(browser, '.o_form_view td.o_td_label label')
        for label in ('频道', '优先级', '用户', '重试次数', '异常信息'):
            self.assertIn(label, labels)
        tabs = self.displayed_texts(browser, '.o_notebook .nav-tabs a')
        self.assertIn('调用', tabs)
        self.click_text(browser, '.o_notebook .nav-tabs a', '失败')
        self.wait_text(browser, '.o_background_job_code', 'Traceback')
        browser.screenshot('failed-job-form')
        self.assertEqual(self.job_state(job_id), 'failed')
        browser.check_no_errors()

    def login(self):
        browser = Browser()
        browser.start()
        self.addCleanup(browser.quit)
        browser.login(self.server, MANAGER, MANAGER)
        return browser
