"""delay() / with_delay(): what gets written, and what is refused."""
import datetime
import json

from odoo.tests.common import TransactionCase

from odoo.addons.background_job.service.decorator import BoundJobMethod


class TestDelay(TransactionCase):

    def setUp(self):
        super().setUp()
        self.Record = self.env['background.job.test.record']
        self.records = self.Record.create([{'name': 'a'}, {'name': 'b'}]) \
            if hasattr(self.Record, 'create_multi') else \
            self.Record.create({'name': 'a'}) | self.Record.create({'name': 'b'})
        self.Job = self.env['queue.job']

    def count_jobs(self):
        return self.Job.search_count([])

    def test_delay_writes_a_pending_job_with_the_call(self):
        when = datetime.date(2026, 11, 22)
        job = self.records.log_run.delay('hello', info={'when': when, 'pair': (1, 2)})
        self.assertEqual(job._name, 'queue.job')
        self.assertEqual(job.state, 'pending')
        self.assertEqual((job.model_name, job.method_name),
                         ('background.job.test.record', 'log_run'))
        self.assertEqual(json.loads(job.record_ids), self.records.ids)
        self.assertEqual(job.user_id, self.env.user)
        self.assertEqual(job.company_id, self.env.user.company_id)
        self.assertEqual(job.channel, 'root')
        self.assertEqual(job.name, 'Log one execution, then return the marker.')
        self.assertEqual(json.loads(job.args), ['hello'])
        self.assertIn('"__type__":"date"', job.kwargs)

    def test_with_delay_options_override_the_decorator(self):
        job = self.records.with_delay(priority=1, eta=3600, channel='root.mail',
                                      description='Remind', max_retries=9).noop()
        self.assertEqual((job.priority, job.channel, job.name, job.max_retries),
                         (1, 'root.mail', 'Remind', 9))
        eta = datetime.datetime.strptime(job.eta, '%Y-%m-%d %H:%M:%S')
        self.assertGreater(eta, datetime.datetime.utcnow() + datetime.timedelta(minutes=59))

    def test_a_plain_call_still_runs_synchronously(self):
        before = self.count_jobs()
        self.assertEqual(self.records.log_run('now'), 'now')
        self.assertEqual(self.env['background.job.test.log'].search_count([('marker', '=', 'now')]), 1)
        self.assertEqual(self.count_jobs(), before)
        self.assertIsInstance(self.records.log_run, BoundJobMethod)

    def test_unserializable_argument_raises_type_error_naming_it_and_enqueues_nothing(self):
        before = self.count_jobs()
        with self.assertRaises(TypeError) as caught:
            self.records.log_run.delay('x', info={'bad': object()})
        self.assertIn("argument 'info'['bad']", str(caught.exception))
        self.assertIn('background.job.test.record.log_run', str(caught.exception))
        self.assertEqual(self.count_jobs(), before)

    def test_undecorated_method_cannot_be_delayed(self):
        before = self.count_jobs()
        with self.assertRaises(AttributeError) as caught:
            self.records.with_delay().not_a_job()
        self.assertIn('only methods decorated with @job', str(caught.exception))
        self.assertEqual(self.count_jobs(), before)

    def test_identity_key_returns_the_pending_job_instead_of_a_new_one(self):
        first = self.records.with_delay(identity_key='remind-42').log_run('one')
        second = self.records.with_delay(identity_key='remind-42').log_run('two')
        self.assertEqual(first, second)
        other = self.records.with_delay(identity_key='remind-43').log_run('three')
        self.assertNotEqual(first, other)

    def test_run_now_context_runs_in_the_same_transaction(self):
        records = self.records.with_context(background_job_run_now=True)
        job = records.log_run.delay('immediate')
        self.assertEqual(job.state, 'done')
        self.assertEqual(job.result, 'immediate')
        self.assertEqual(self.env['background.job.test.log'].search_count(
            [('marker', '=', 'immediate')]), 1)

    def test_bad_eta_is_refused(self):
        with self.assertRaises(TypeError):
            self.records.with_delay(eta=[1]).noop()


class TestRunNowOption(TransactionCase):

    def test_run_now_config_option_runs_delayed_calls_at_once(self):
        from odoo.tools import config
        section = config.misc.setdefault('background_job', {})
        previous = section.get('run_now')
        section['run_now'] = 'True'
        try:
            record = self.env['background.job.test.record'].create({'name': 'x'})
            job = record.log_run.delay('by-config')
        finally:
            if previous is None:
                section.pop('run_now')
            else:
                section['run_now'] = previous
        self.assertEqual(job.state, 'done')
        self.assertEqual(self.env['background.job.test.log'].search_count(
            [('marker', '=', 'by-config')]), 1)
