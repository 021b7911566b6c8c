"""Periodic jobs (ir.cron with run_as_queue_job), in the test's transaction:
what a due cron enqueues, and what it does while the previous job runs."""
from odoo.tests.common import TransactionCase

MODEL = 'background.job.test.record'


class PeriodicCase(TransactionCase):

    def setUp(self):
        super().setUp()
        self.Job = self.env['queue.job']
        self.user = self.env['res.users'].create({
            'name': 'Periodic', 'login': 'chains-periodic',
            'groups_id': [(6, 0, [self.env.ref('base.group_user').id])]})
        self.cron = self.make_cron('periodic unit', "model.chains_step('periodic-unit')")

    def make_cron(self, name, code, **values):
        model = self.env['ir.model'].search([('model', '=', MODEL)])
        return self.env['ir.cron'].create(dict({
            'name': name, 'model_id': model.id, 'state': 'code', 'code': code,
            'interval_number': 1, 'interval_type': 'minutes', 'numbercall': -1,
            'nextcall': '2026-01-01 10:00:00', 'run_as_queue_job': True, 'priority': 7,
            'user_id': self.user.id}, **values))

    def due(self, cron, nextcall):
        """Odoo's cron thread calling the cron at ``nextcall``."""
        cron.nextcall = nextcall
        self.env['ir.cron'].sudo(cron.user_id)._callback(cron.name, cron.ir_actions_server_id.id,
                                                         cron.id)
        return self.jobs(cron)

    def jobs(self, cron):
        return self.Job.search([('model_name', '=', 'ir.cron'),
                                ('record_ids', '=', '[%d]' % cron.id)], order='id')


class TestPeriodic(PeriodicCase):

    def test_a_due_cron_enqueues_one_job_per_due_time_and_runs_nothing(self):
        jobs = self.due(self.cron, '2026-01-01 10:00:00')
        self.assertEqual(len(jobs), 1)
        self.assertEqual((jobs.state, jobs.method_name, jobs.priority, jobs.channel, jobs.name,
                          jobs.user_id), ('pending', '_run_as_queue_job', 7, 'root',
                                          'periodic unit', self.cron.user_id))
        self.assertEqual(self.env['background.job.test.log'].search_count(
            [('marker', '=', 'periodic-unit')]), 0, 'the cron thread only enqueues')
        self.assertEqual(len(self.due(self.cron, '2026-01-01 10:00:00')), 1,
                         'the same due time again (another server): no second job')

    def test_the_next_due_time_waits_for_an_unfinished_job_or_skips(self):
        first = self.due(self.cron, '2026-01-01 10:00:00')
        second = self.due(self.cron, '2026-01-01 10:01:00') - first
        self.assertEqual(second.state, 'waiting')
        self.assertEqual(second.dependency_ids, first)
        first.set_done()
        second.invalidate_cache()
        self.assertEqual(second.state, 'pending')
        skipping = self.make_cron('skipping', "model.chains_step('periodic-skip')",
                                  queue_job_overlap='skip')
        self.due(skipping, '2026-01-01 10:00:00')
        self.assertEqual(len(self.due(skipping, '2026-01-01 10:01:00')), 1)
        self.jobs(skipping).set_done()
        self.assertEqual(len(self.due(skipping, '2026-01-01 10:02:00')), 2)

    def test_a_cron_without_the_option_runs_its_code_in_the_cron_thread(self):
        plain = self.make_cron('plain', "model.chains_step('periodic-plain')",
                               run_as_queue_job=False)
        self.assertFalse(self.due(plain, '2026-01-01 10:00:00'))
        self.assertEqual(self.env['background.job.test.log'].search_count(
            [('marker', '=', 'periodic-plain')]), 1)

    def test_the_job_runs_the_action_as_the_cron_user(self):
        job = self.due(self.cron, '2026-01-01 10:00:00')
        self.env[job.model_name].sudo(job.user_id).browse(self.cron.id)._run_as_queue_job()
        log = self.env['background.job.test.log'].search([('marker', '=', 'periodic-unit')])
        self.assertEqual(log.create_uid, self.cron.user_id)
