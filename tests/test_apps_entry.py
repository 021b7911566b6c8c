"""The addon's entry in the Apps menu: its icon, description page, summary
and category, and an install or update that logs no warning about them
(Odoo 11 renders a README as reStructuredText unless
static/description/index.html exists; our README is Markdown)."""
import base64
import os
import re
import subprocess

import psycopg2
import pytest
from odoo.tests.common import TransactionCase

from .odoo_server import (BIN, CONFIG, ODOO, ROOT, OdooServer, ensure_db, temporary_database,
                          test_output_dir)

# What docutils says about a description it cannot parse: on stderr
# ("<string>:19: (ERROR/3) Unexpected indentation.") and in Odoo's log
# ("docutils' system message present: ...").
DOCUTILS_MESSAGE = re.compile(r"\((INFO|WARNING|ERROR|SEVERE)/\d\)|docutils")
LOG_PROBLEM = re.compile(r'^\S+ \S+ \d+ (WARNING|ERROR|CRITICAL) ')


class TestAppsEntry(TransactionCase):

    def setUp(self):
        super().setUp()
        self.module = self.env['ir.module.module'].search([('name', '=', 'background_job')])

    def test_the_apps_page_shows_the_description_page_without_warnings(self):
        with self.assertNoLogs('odoo.addons.base.module.module', level='WARNING'):
            page = self.module.description_html
        self.assertIn('A fast, reliable background job queue stored in PostgreSQL', page)
        self.assertIn('For administrators', page)
        self.assertNotIn('```', page)  # no Markdown shown as text

    def test_the_apps_kanban_shows_an_icon_summary_and_category(self):
        self.assertEqual(self.module.icon, '/background_job/static/description/icon.png')
        self.assertTrue(base64.b64decode(self.module.icon_image).startswith(b'\x89PNG'))
        self.assertEqual(self.module.summary,
                         'Fast, reliable background job queue stored in PostgreSQL')
        self.assertEqual(self.module.category_id.name, 'Extra Tools')
        self.assertTrue(self.module.application)


@pytest.mark.server
def test_updating_the_addon_logs_no_warning():
    """`odoo -u background_job` as an admin runs it: no docutils message
    and no warning in the log."""
    logfile = os.path.join(test_output_dir(), 'update.log')
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    with temporary_database() as db:
        result = subprocess.run(
            [ODOO, '-c', CONFIG, '-d', db, '--db-filter=^%s$' % db, '-u', 'background_job',
             '--stop-after-init', '--logfile=%s' % logfile],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    with open(logfile) as handle:
        log = handle.read()
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'loading background_job/views/background_job_menus.xml' in log, log[-3000:]
    assert 'Modules loaded.' in log, log[-3000:]
    docutils = [line for line in (result.stderr + log).splitlines()
                if DOCUTILS_MESSAGE.search(line)]
    assert docutils == []
    assert [line for line in log.splitlines() if LOG_PROBLEM.match(line)] == []


@pytest.mark.server
def test_the_apps_page_in_a_browser():
    """Apps > Background Jobs as an admin sees it: the description page, not
    the README's Markdown (screenshot in the test output folder)."""
    from .browser import Browser

    with temporary_database() as db, OdooServer(db) as server, Browser() as browser:
        connection = psycopg2.connect(dbname=db, **ensure_db.db_params())
        with connection, connection.cursor() as cr:
            cr.execute("SELECT id FROM ir_module_module WHERE name = 'background_job'")
            (module_id,), = cr.fetchall()
        connection.close()
        browser.login(server)
        browser.open(server, '/web#model=ir.module.module&view_type=form&id=%d' % module_id)
        browser.wait_until(
            lambda driver: 'For administrators' in browser.page_text(), 'the description page')
        browser.wait_idle()
        browser.screenshot('apps-page')
        browser.check_no_errors()
        text = browser.page_text()
        assert 'A fast, reliable background job queue stored in PostgreSQL' in text
        assert '```' not in text and '| what | command |' not in text
