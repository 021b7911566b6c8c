"""A job runs in the company it was enqueued in (service/company.py), with
real commits: a user of two companies enqueues in A, then switches to B as
the web client does (res.users.write on themself)."""
import json

from .common import BatchHelpers, CommittedDatabaseCase, running, wait_for

PROBE = 'background.job.test.record'
RECORD = 'background.job.test.company.record'


class TestCompany(BatchHelpers, CommittedDatabaseCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with cls.db.env() as env:
            cls.a, cls.b = (env['res.company'].create({'name': name}).id
                            for name in ('Company A', 'Company B'))
            cls.uid = env['res.users'].create({
                'name': 'Two Companies', 'login': 'twocompanies', 'company_id': cls.a,
                'company_ids': [(6, 0, [cls.a, cls.b])],
                'groups_id': [(4, env.ref('base.group_user').id),
                              (4, env.ref('base.group_multi_company').id)]}).id
            records = env[RECORD]
            cls.a_record = records.create({'name': 'of A', 'company_id': cls.a}).id
            records.create({'name': 'of B', 'company_id': cls.b})
            cls.probe_id = env[PROBE].create({'name': 'probe'}).id

    def switch(self, company_id):
        with self.db.env(self.uid) as env:
            env.user.write({'company_id': company_id})

    def enqueue(self, marker, read_id=None):
        with self.db.env(self.uid) as env:
            return env[PROBE].browse(self.probe_id).company_probe.delay(marker, read_id).id

    def run_jobs(self, job_ids, timeout=30):
        """Run the jobs one at a time (one thread, id order); their states."""
        finished = "SELECT id, state, exc_message FROM queue_job WHERE id IN %s " \
                   "AND state IN ('done', 'failed')"
        with running(self.db.runner(threads=1)):
            wait_for(lambda: len(self.db.query(finished, (tuple(job_ids),))) == len(job_ids),
                     timeout, message='jobs %s finished' % job_ids)
        return {row[0]: row[1:] for row in self.db.query(finished, (tuple(job_ids),))}

    def probed(self, marker):
        rows = self.db.query("SELECT info FROM background_job_test_log WHERE marker = %s",
                             (marker,))
        return json.loads(rows[0][0]) if rows else None

    def visible_to_user(self):
        """What the user's own requests see, in this process (the ormcache
        of record rules is shared with the jobs run here)."""
        with self.db.env(self.uid) as env:
            names = env[RECORD].search([('name', 'like', 'of %')]).mapped('name')
            return env.user.company_id.id, sorted(names)

    def test_a_job_creates_and_reads_in_the_company_it_was_enqueued_in(self):
        self.switch(self.a)
        job_id = self.enqueue('switched', read_id=self.a_record)
        self.switch(self.b)
        self.assertEqual(self.run_jobs([job_id]), {job_id: ('done', None)})
        seen = self.probed('switched')
        self.assertEqual((seen['user_company'], seen['created_company'], seen['read']),
                         (self.a, self.a, 'of A'))
        self.assertNotIn('of B', seen['visible'])
        self.assertEqual(seen['after_invalidate'], self.a)
        # the user is still in B, and their requests still see B's records
        self.assertEqual(self.visible_to_user(), (self.b, ['of B']))

    def test_jobs_of_one_user_in_two_companies_each_see_their_own(self):
        self.switch(self.a)
        in_a = self.enqueue('first in A')
        self.switch(self.b)
        in_b = self.enqueue('then in B')
        self.switch(self.a)
        self.assertEqual(self.visible_to_user()[1], ['of A'])  # Odoo caches A's rule domain
        states = self.run_jobs([in_a, in_b])
        self.assertEqual(states, {in_a: ('done', None), in_b: ('done', None)})
        first, then = self.probed('first in A'), self.probed('then in B')
        self.assertEqual((first['user_company'], first['created_company']), (self.a, self.a))
        self.assertEqual((then['user_company'], then['created_company']), (self.b, self.b))
        self.assertNotIn('of B', first['visible'])
        self.assertEqual([name for name in then['visible'] if name.startswith('of ')], ['of B'])
        # the job in B neither used nor replaced the domain cached for the user's requests
        self.assertEqual(self.visible_to_user()[1], ['of A'])

    def test_force_company_at_delay_is_the_company_the_job_runs_in(self):
        self.switch(self.a)
        with self.db.env(self.uid, {'force_company': self.b}) as env:
            job_id = env[PROBE].browse(self.probe_id).company_probe.delay('forced B').id
        self.assertEqual(self.run_jobs([job_id]), {job_id: ('done', None)})
        seen = self.probed('forced B')
        self.assertEqual((seen['user_company'], seen['created_company']), (self.b, self.b))

    def test_the_user_can_switch_company_while_their_job_runs(self):
        self.switch(self.a)
        with self.db.env(self.uid) as env:
            job_id = env[PROBE].browse(self.probe_id).sleep_and_log.delay('sleeping', 4).id
        self.switch(self.b)
        with running(self.db.runner(threads=1)):
            wait_for(lambda: self.db.query("SELECT state FROM queue_job WHERE id = %s",
                                           (job_id,))[0][0] == 'started', 30)
            with self.db.env(self.uid) as env:  # fails at once if the user's row is locked
                env.cr.execute("SET LOCAL lock_timeout = '1s'")
                env.user.write({'company_id': self.a})
            self.assertEqual(self.db.log_count('sleeping'), 0)  # the job still runs
            wait_for(lambda: self.db.log_count('sleeping'), 30)

    def test_a_company_the_user_may_no_longer_use_is_not_used(self):
        self.switch(self.a)
        job_id = self.enqueue('lost A')
        with self.db.env() as env:
            env['res.users'].browse(self.uid).write({'company_id': self.b,
                                                     'company_ids': [(3, self.a)]})
        try:
            self.assertEqual(self.run_jobs([job_id]), {job_id: ('done', None)})
        finally:
            with self.db.env() as env:
                env['res.users'].browse(self.uid).write({'company_ids': [(4, self.a)]})
        seen = self.probed('lost A')
        self.assertEqual((seen['user_company'], seen['created_company']), (self.b, self.b))

    def test_the_done_method_of_a_batch_runs_after_its_user_switched_company(self):
        self.switch(self.a)
        batch_id = self.start_batch(self.make_records(2), 'batch in A', uid=self.uid,
                                    job_size=1)
        self.switch(self.b)
        with running(self.db.runner(threads=1)):
            batch = self.wait_batch_state(batch_id, {'done'}, timeout=30)
        self.assertEqual((batch['batch_state'], batch['done_job_state']), ('done', 'done'))
        (call,) = self.done_calls(batch_id)
        self.assertEqual((call['uid'], call['total'], call['done']), (self.uid, 2, 2))

    def test_the_engine_reads_a_batch_whatever_the_company_of_its_user(self):
        # the done method runs in the user's current company (A is no longer
        # theirs), and the engine still reads the batch it has to finish
        self.switch(self.a)
        batch_id = self.start_batch(self.make_records(1), 'batch lost A', uid=self.uid,
                                    done_method=PROBE + '.batch_done_plain')
        with self.db.env() as env:
            env['res.users'].browse(self.uid).write({'company_id': self.b,
                                                     'company_ids': [(3, self.a)]})
        try:
            with running(self.db.runner(threads=1)):
                self.wait_batch_state(batch_id, {'done'}, timeout=30)
        finally:
            with self.db.env() as env:
                env['res.users'].browse(self.uid).write({'company_ids': [(4, self.a)]})
        rows = self.db.query("SELECT info FROM background_job_test_log WHERE marker = %s",
                             ('batch-done-plain:%d' % batch_id,))
        self.assertEqual([json.loads(row[0]) for row in rows], [{'user_company': self.b}])
