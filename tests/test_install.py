import psycopg2

from odoo.tests.common import TransactionCase
from odoo.tools import mute_logger

from odoo.addons.background_job.engine import schema


class TestInstall(TransactionCase):

    def test_job_queue_menu_is_reachable_from_the_jobs_action(self):
        menu = self.env.ref('background_job.queue_job_menu')
        self.assertEqual(menu.action, self.env.ref('background_job.queue_job_action'))
        self.assertEqual(menu.parent_id.name, 'Job Queue')


class TestReferencedUsersAndCompanies(TransactionCase):
    """queue_job has no foreign keys to users and companies (delay() would
    pay for their checks), yet deleting either while jobs refer to it is
    refused, as ON DELETE RESTRICT would."""

    def setUp(self):
        super().setUp()
        self.company = self.env['res.company'].create({'name': 'Jobs Inc.'})
        self.user = self.env['res.users'].create({
            'name': 'Enqueuer', 'login': 'enqueuer', 'company_id': self.company.id,
            'company_ids': [(6, 0, [self.company.id])]})
        self.Record = self.env['background.job.test.record']

    def delete(self, records):
        with mute_logger('odoo.sql_db'), self.cr.savepoint():
            records.unlink()

    def test_a_user_or_company_with_jobs_cannot_be_deleted(self):
        job = self.Record.sudo(self.user).with_context(
            force_company=self.company.id).noop.delay()
        self.assertEqual((job.user_id, job.company_id), (self.user, self.company))
        for referenced in (self.user, self.company):
            with self.assertRaises(psycopg2.IntegrityError) as caught:
                self.delete(referenced)
            self.assertEqual(caught.exception.pgcode, '23503')
            self.assertTrue(referenced.exists())

    def test_a_user_or_company_without_jobs_can_be_deleted(self):
        self.delete(self.user)
        self.delete(self.company)
        self.assertFalse(self.user.exists() or self.company.exists())

    def test_uninstall_removes_the_guard(self):
        self.Record.sudo(self.user).noop.delay()
        schema.uninstall(self.cr)
        self.delete(self.user)
        self.assertFalse(self.user.exists())
