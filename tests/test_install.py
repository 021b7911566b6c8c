from odoo.tests.common import TransactionCase


class TestInstall(TransactionCase):

    def test_job_queue_menu_is_reachable_from_the_jobs_action(self):
        menu = self.env.ref('background_job.queue_job_menu')
        self.assertEqual(menu.action, self.env.ref('background_job.queue_job_action'))
        self.assertEqual(menu.parent_id.name, 'Job Queue')
