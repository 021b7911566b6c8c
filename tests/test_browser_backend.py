"""The backend, for real: a server on a clone of the test database, and
headless Chromium logging in as admin and opening the job list."""
import re

import pytest

from .browser import Browser
from .odoo_server import OdooServer, temporary_database

pytestmark = pytest.mark.server

TRANSPARENT = ('', 'transparent', 'rgba(0, 0, 0, 0)')


def test_admin_opens_the_job_list_in_a_styled_backend():
    with temporary_database() as db, OdooServer(db) as server, Browser() as browser:
        browser.login(server, 'admin', 'admin')
        browser.screenshot('logged-in')

        # The stylesheets compiled (lessc ran): the navbar has its colour and
        # neither the page nor the server reports a LESS error.
        navbar = browser.computed_style('#oe_main_menu_navbar', 'background-color')
        assert navbar not in TRANSPARENT, 'backend is not styled: navbar background %r' % navbar
        assert browser.computed_style('.o_sub_menu', 'display') != 'none'
        assert 'Could not execute command' not in server.log_text()
        assert not re.search(r'less|lessc', ' '.join(server.log_errors()), re.I), server.log_errors()

        # Admin lands on the first app, which may be this one: go elsewhere
        # first so that the clicks below really navigate.
        browser.click_menu('Settings')
        browser.screenshot('settings')
        assert 'model=queue.job' not in browser.driver.current_url

        browser.click_menu('Job Queue')
        browser.screenshot('job-queue-app')
        browser.click_menu('Jobs')
        assert 'model=queue.job' in browser.driver.current_url
        browser.wait_for('.o_list_view, .oe_view_nocontent')
        breadcrumb = browser.wait_for('.o_control_panel .breadcrumb')
        assert breadcrumb.text.strip() == 'Jobs'
        browser.check_no_errors()
        browser.screenshot('jobs-list')

    assert server.log_errors() == []
