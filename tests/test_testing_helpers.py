"""The trap_jobs helper that addon authors use in their tests."""
from odoo.tests.common import TransactionCase

from odoo.addons.background_job.testing import trap_jobs


class TestTrapJobs(TransactionCase):

    def setUp(self):
        super().setUp()
        self.record = self.env['background.job.test.record'].create({'name': 'trap'})
        self.Log = self.env['background.job.test.log']

    def test_trap_lists_what_the_block_enqueued_and_runs_it_on_demand(self):
        self.record.log_run.delay('before')
        with trap_jobs(self.env) as trap:
            self.record.log_run.delay('inside', info={'n': 1})
            self.record.with_delay(priority=1).noop()
        self.record.log_run.delay('after')
        self.assertEqual(len(trap.jobs), 2)
        trap.assert_enqueued(self.record, 'log_run', 'inside', info={'n': 1})
        trap.assert_enqueued(self.record, 'noop')
        with self.assertRaises(AssertionError):
            trap.assert_enqueued(self.record, 'log_run', 'before')
        self.assertEqual(self.Log.search_count([('marker', '=', 'inside')]), 0)
        trap.perform()
        self.assertEqual(self.Log.search_count([('marker', '=', 'inside')]), 1)
        self.assertEqual(set(trap.jobs.mapped('state')), {'done'})
        self.assertEqual(self.Log.search_count([('marker', '=', 'before')]), 0)

    def test_perform_lets_the_job_exception_reach_the_test(self):
        with trap_jobs(self.env) as trap:
            self.record.log_then_fail.delay('trapped-failure')
        with self.assertRaises(ValueError):
            trap.perform()
