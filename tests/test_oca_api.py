"""OCA queue_job's spellings, accepted with the same meaning: a module
ported from OCA changes its import line and its manifest dependency."""
import datetime

from odoo.exceptions import AccessError, UserError
from odoo.tests.common import TransactionCase

from odoo.addons.background_job import (
    FailedJobError, RetryableJobError, identity_exact, job, related_action)
from odoo.addons.background_job.engine.identity import JobCall, resolve
from odoo.addons.background_job.engine.job_method import find_job_method
from odoo.addons.background_job.testing import trap_jobs

RECORD = 'background.job.test.record'


class TestOcaDecorators(TransactionCase):

    def setUp(self):
        super().setUp()
        self.record = self.env[RECORD].create({'name': 'oca'})

    def job_method(self, name):
        return find_job_method(type(self.env[RECORD]), name)

    def test_default_channel_and_retry_pattern_are_the_jobs_defaults(self):
        job_record = self.record.with_delay().oca_log('m1')
        self.assertEqual(job_record.channel, 'root.oca_channel')
        policy = self.job_method('oca_log').retry_policy
        self.assertEqual([policy.delay_for(count) for count in range(4)], [7, 7, 30, 30])

    def test_channel_and_default_channel_must_agree(self):
        with self.assertRaisesRegex(ValueError, "channel='root.a' and default_channel='root.b'"):
            job(channel='root.a', default_channel='root.b')(lambda self: None)
        self.assertEqual(job(channel='root.a', default_channel='root.a')(
            lambda self: None).channel, 'root.a')

    def test_api_multi_over_job_still_delays(self):
        records = self.record | self.record.copy()
        with trap_jobs(self.env) as trap:
            records.with_delay().oca_multi('multi')
        trap.assert_enqueued(records, 'oca_multi', 'multi')
        trap.perform()
        self.assertEqual(trap.jobs.result, '2')

    def test_retryable_error_takes_ocas_arguments(self):
        error = RetryableJobError('wait', 30, True)
        self.assertEqual((str(error), error.seconds, error.ignore_retry), ('wait', 30, True))
        self.assertTrue(issubclass(FailedJobError, Exception))

    def test_ignore_retry_retries_past_max_retries(self):
        with trap_jobs(self.env) as trap:
            self.record.with_delay().oca_retry_ignoring_count('again')
        for _attempt in range(3):  # max_retries=1, yet it stays pending
            with self.assertRaises(RetryableJobError):
                trap.perform()
            self.env.cr.execute("UPDATE queue_job SET eta = now() AT TIME ZONE 'UTC' "
                                "WHERE id = %s", (trap.jobs.id,))
            trap.jobs.invalidate_cache()
        self.assertEqual((trap.jobs.state, trap.jobs.retry), ('pending', 3))


class TestRelatedAction(TransactionCase):

    def setUp(self):
        super().setUp()
        self.record = self.env[RECORD].create({'name': 'related'})

    def test_the_related_action_of_the_method_opens_with_its_arguments(self):
        for method in ('oca_log', 'oca_related_on_top'):  # either decorator order
            job_record = getattr(self.record.with_delay(), method)('r-' + method)
            self.assertEqual(job_record.related_action, 'oca_related_action_logs')
            action = job_record.open_related_action()
            self.assertEqual((action['res_model'], action['domain']),
                             ('background.job.test.log', [('marker', 'in', ['r-' + method])]))
        self.assertEqual(self.record.with_delay().oca_log('t').open_related_action()['name'],
                         'Logs of the job')

    def test_without_related_action_the_records_open(self):
        job_record = self.record.with_delay().oca_multi('records')
        self.assertEqual(job_record.related_action, 'related_action_open_record')
        action = job_record.open_related_action()
        self.assertEqual((action['res_model'], action['res_id']), (RECORD, self.record.id))

    def test_records_gone_or_related_action_disabled_give_no_action(self):
        disabled = self.record.with_delay().oca_no_related_action()
        self.assertFalse(disabled.related_action)
        gone = self.record.with_delay().oca_multi('gone')
        self.record.unlink()
        for job_record in (disabled, gone):
            with self.assertRaisesRegex(UserError, 'No action available for this job'):
                job_record.open_related_action()

    def test_a_related_action_that_is_no_method_of_queue_job_is_refused(self):
        job_record = self.record.with_delay().oca_missing_related_action()
        with self.assertRaisesRegex(UserError, 'oca_no_such_method .* is not a method of queue.job'):
            job_record.open_related_action()

    def test_related_action_runs_as_the_user_on_jobs_they_can_read(self):
        user = self.env['res.users'].create({
            'name': 'Other', 'login': 'oca-other',
            'groups_id': [(6, 0, [self.env.ref('base.group_user').id])]})
        job_record = self.record.with_delay().oca_log('private')  # the admin's job
        with self.assertRaises(AccessError):
            job_record.sudo(user).open_related_action()
        own = self.record.sudo(user).with_delay().oca_log('own')
        self.assertEqual(own.sudo(user).open_related_action()['res_model'],
                         'background.job.test.log')

    def test_related_action_takes_a_method_name(self):
        with self.assertRaisesRegex(ValueError, "@related_action takes the name"):
            related_action(lambda self: None)


class TestIdentityExact(TransactionCase):

    def setUp(self):
        super().setUp()
        self.record = self.env[RECORD].create({'name': 'identity'})

    def delay(self, records, marker, **kwargs):
        return records.with_delay(identity_key=identity_exact).log_run(marker, **kwargs)

    def test_the_same_call_gives_the_pending_job_back(self):
        other = self.record.copy()
        when = datetime.date(2026, 12, 1)
        first = self.delay(self.record | other, 'same', info={'when': str(when)})
        self.assertTrue(first.identity_key)
        self.assertEqual(self.delay(other | self.record, 'same', info={'when': str(when)}), first)
        self.assertNotEqual(self.delay(self.record | other, 'other', info={'when': str(when)}),
                            first)
        self.assertNotEqual(self.delay(self.record, 'same', info={'when': str(when)}), first)

    def test_a_function_of_the_call_gives_the_key(self):
        keyed = self.record.with_delay(
            identity_key=lambda call: '%s:%s' % (call.method_name, call.args[0])).log_run('k')
        self.assertEqual(keyed.identity_key, 'log_run:k')

    def test_bad_keys_are_refused_before_anything_is_written(self):
        call = JobCall(RECORD, 'log_run', self.record, ('x',), {})
        with self.assertRaisesRegex(ValueError, 'must return a str or None'):
            resolve(lambda call: 42, lambda: call)
        with self.assertRaisesRegex(ValueError, 'identity_key must be a str or a function'):
            resolve(42, lambda: call)
        self.assertIsNone(resolve(None, lambda: call))
