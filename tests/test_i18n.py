"""The backend's translations: the terms Odoo's exporter finds in a real
database (menus, views, fields, selections, _() and _t() messages) are those
of i18n/background_job.pot, and i18n/zh_CN.po translates every one of them,
keeping its placeholders."""
import importlib.util
import io
import os
import re

from babel.messages.pofile import read_po

from odoo.exceptions import AccessError
from odoo.tests.common import TransactionCase
from odoo.tools.translate import load_language

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
I18N = os.path.join(ROOT, 'i18n')
# %s, %d, %(name)s ... as Python and the web client's sprintf read them; %% is a literal.
PLACEHOLDER = re.compile(r'%(?:\([^)]+\))?[-+ #0]*\d*(?:\.\d+)?[sdifgeExXor%]')


def load_script(name):
    """scripts/<name>.py (a script, not a package) as a module."""
    spec = importlib.util.spec_from_file_location(
        'background_job_scripts_' + name, os.path.join(ROOT, 'scripts', name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def catalog(content):
    """{msgid: msgstr} of a .po/.pot file's content (bytes), header left out."""
    return {message.id: message.string
            for message in read_po(io.BytesIO(content), abort_invalid=True) if message.id}


def read(name):
    with open(os.path.join(I18N, name), 'rb') as handle:
        return catalog(handle.read())


def placeholders(text):
    return sorted(match for match in PLACEHOLDER.findall(text) if match != '%%')


class TestTranslations(TransactionCase):

    def setUp(self):
        super().setUp()
        self.exported = catalog(load_script('export_pot').export(self.env.cr))

    def test_the_pot_holds_the_terms_the_backend_shows(self):
        self.assertIn('Job Queue', self.exported)              # menu
        self.assertIn('Requeue', self.exported)                # button
        self.assertIn('Background job failed: %s', self.exported)  # notification (_t)
        self.assertIn('You can only cancel jobs you enqueued.', self.exported)  # error (_())
        pot = read('background_job.pot')
        self.assertEqual(sorted(set(self.exported) - set(pot)), [],
                         'terms missing from i18n/background_job.pot: run `make pot`')
        self.assertEqual(sorted(set(pot) - set(self.exported)), [],
                         'terms of i18n/background_job.pot the backend no longer has: run `make pot`')

    def test_every_backend_term_has_a_chinese_translation(self):
        chinese = read('zh_CN.po')
        untranslated = sorted(term for term in self.exported if not chinese.get(term, '').strip())
        self.assertEqual(untranslated, [], 'terms without a zh_CN translation in i18n/zh_CN.po')

    def test_chinese_translations_keep_the_placeholders(self):
        wrong = {term: text for term, text in read('zh_CN.po').items()
                 if text and placeholders(term) != placeholders(text)}
        self.assertEqual(wrong, {}, 'translations whose %s, %d, %(name)s differ from the term')


class TestChineseMessages(TransactionCase):

    def test_errors_are_raised_in_the_users_language(self):
        load_language(self.env.cr, 'zh_CN')  # in the test's transaction: rolled back
        Job = self.env['queue.job'].with_context(lang='zh_CN')
        with self.assertRaises(AccessError) as raised:
            Job.create({})
        self.assertIn('不能直接创建作业', raised.exception.name)
        self.assertEqual(dict(Job.fields_get(['state'])['state']['selection'])['failed'], '失败')
