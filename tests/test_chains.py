"""Chains, groups and dependencies: what delay() writes, what it refuses,
and what follows a job's end (in the ending transaction), without workers:
jobs are ended with the statements that workers and admins use."""
import doctest

from odoo.tests.common import TransactionCase

from odoo.addons.background_job import chain, group
from odoo.addons.background_job.engine import graph, store
from odoo.addons.background_job.engine.store import runs

MODEL = 'background.job.test.record'


def test_the_examples_of_engine_graph_hold():
    assert doctest.testmod(graph).failed == 0


class ChainsCase(TransactionCase):

    def setUp(self):
        super().setUp()
        self.Job = self.env['queue.job']
        self.record = self.env[MODEL].create({'name': 'chains'})

    def step(self, name, **options):
        return self.record.delayable(**options).chains_step('chains-unit', step=name)

    def state(self, delayable):
        delayable.job.invalidate_cache()
        return delayable.job.state

    def states(self, *delayables):
        return [self.state(d) for d in delayables]

    def end(self, delayable, how='done'):
        """End a job with the statement a worker (or an admin) uses."""
        cr, job_id = self.env.cr, delayable.job.id
        cr.execute("UPDATE queue_job SET state = 'started', worker_id = 0 WHERE id = %s",
                   (job_id,))
        if how == 'done':
            runs.mark_done(cr, job_id, None)
        else:
            store.mark_failed(cr, job_id, 0, retry=False, delay=0, exec_time=0,
                              exc_type='ValueError', exc_message='boom', exc_info='')
        self.Job.invalidate_cache()


class TestWrite(ChainsCase):

    def test_chain_writes_waiting_jobs_with_their_edges_in_order(self):
        a, b, c = self.step('a', priority=3, channel='root.x'), self.step('b'), self.step('c')
        jobs = chain(a, b, c).delay()
        self.assertEqual(jobs, a.job | b.job | c.job)
        self.assertEqual(self.states(a, b, c), ['pending', 'waiting', 'waiting'])
        self.assertEqual((a.job.priority, a.job.channel), (3, 'root.x'))
        self.assertEqual(b.job.dependency_ids, a.job)
        self.assertEqual(c.job.dependency_ids, b.job)
        self.assertEqual(a.job.dependent_ids, b.job)
        self.assertEqual([a.job.has_dependents, b.job.has_dependents, c.job.has_dependents],
                         [True, True, False])
        self.assertTrue(a.job.id < b.job.id < c.job.id)

    def test_group_on_done_waits_for_every_member(self):
        a, b, c = self.step('a'), self.step('b'), self.step('c')
        group(a, b).on_done(c).delay()
        self.assertEqual(self.states(a, b, c), ['pending', 'pending', 'waiting'])
        self.assertEqual(c.job.dependency_ids, a.job | b.job)

    def test_delay_of_any_member_writes_the_whole_graph(self):
        a, b, c, d = self.step('a'), self.step('b'), self.step('c'), self.step('d')
        a.on_done(b)
        c.on_done(b)
        b.on_done(d)
        d.delay()
        self.assertTrue(all(node.job for node in (a, b, c, d)))
        self.assertEqual(b.job.dependency_ids, a.job | c.job)

    def test_chains_of_groups_link_every_tail_to_every_head(self):
        a, b, c, d = self.step('a'), self.step('b'), self.step('c'), self.step('d')
        chain(group(a, b), group(c, d)).delay()
        self.assertEqual(c.job.dependency_ids, a.job | b.job)
        self.assertEqual(d.job.dependency_ids, a.job | b.job)

    def test_refused_with_clear_errors(self):
        a, b = self.step('a'), self.step('b')
        a.on_done(b)
        b.on_done(a)
        with self.assertRaisesRegex(ValueError, 'dependency cycle: .*chains_step.* -> '):
            a.delay()
        with self.assertRaisesRegex(ValueError, 'waits for itself'):
            a.on_done(a)
        with self.assertRaisesRegex(AttributeError, 'chains_not_a_job cannot be delayed'):
            self.record.delayable().chains_not_a_job()
        with self.assertRaisesRegex(TypeError, 'on_done.. takes delayables'):
            self.step('c').on_done(self.record)
        with self.assertRaisesRegex(TypeError, 'chain.. takes delayables'):
            chain(self.step('d'), 'not a delayable')
        with self.assertRaisesRegex(ValueError, 'records no call'):
            self.record.delayable().delay()
        with self.assertRaisesRegex(ValueError, 'already records a call'):
            self.step('e').chains_step('again')
        with self.assertRaisesRegex(ValueError, 'group.. needs at least one'):
            group()
        self.assertEqual(self.Job.search_count([('method_name', '=', 'chains_step')]), 0)
        done = self.step('f')
        done.delay()
        with self.assertRaisesRegex(ValueError, 'was delayed already'):
            chain(done, self.step('g')).delay()


class TestFollow(ChainsCase):

    def test_done_makes_the_next_of_a_chain_pending_in_the_same_transaction(self):
        a, b, c = self.step('a'), self.step('b'), self.step('c')
        chain(a, b, c).delay()
        self.end(a)
        self.assertEqual(self.states(a, b, c), ['done', 'pending', 'waiting'])
        self.end(b)
        self.assertEqual(self.states(b, c), ['done', 'pending'])

    def test_group_callback_is_pending_only_once_all_members_are_done(self):
        a, b, c = self.step('a'), self.step('b'), self.step('c')
        group(a, b).on_done(c).delay()
        self.end(b)
        self.assertEqual(self.state(c), 'waiting')
        self.end(a)
        self.assertEqual(self.state(c), 'pending')

    def test_a_failure_cancels_dependents_transitively_and_a_requeue_revives_them(self):
        a, b, c, other = self.step('a'), self.step('b'), self.step('c'), self.step('other')
        chain(a, b, c).delay()
        other.delay()
        self.end(a, 'failed')
        self.assertEqual(self.states(a, b, c, other), ['failed', 'cancelled', 'cancelled', 'pending'])
        self.assertEqual(b.job.exc_message, 'dependency %d failed' % a.job.id)
        self.assertEqual(c.job.exc_message, 'dependency %d cancelled' % b.job.id)
        a.job.requeue()
        self.assertEqual(self.states(a, b, c), ['pending', 'waiting', 'waiting'])
        self.assertFalse(b.job.exc_message)
        self.end(a)
        self.assertEqual(self.states(a, b, c), ['done', 'pending', 'waiting'])

    def test_an_admin_cancel_cancels_dependents_and_a_direct_requeue_still_waits(self):
        a, b, c = self.step('a'), self.step('b'), self.step('c')
        chain(a, b, c).delay()
        b.job.cancel()
        self.assertEqual(self.states(a, b, c), ['pending', 'cancelled', 'cancelled'])
        b.job.requeue()  # its dependency is not done: it waits for it
        self.assertEqual(self.states(a, b, c), ['pending', 'waiting', 'waiting'])

    def test_set_done_by_hand_starts_the_dependents(self):
        a, b = self.step('a'), self.step('b')
        chain(a, b).delay()
        a.job.set_done()
        self.assertEqual(self.states(a, b), ['done', 'pending'])

    def test_a_batch_member_waits_then_its_children_start_and_it_counts_done_after_its_done_method(self):
        records = self.record | self.env[MODEL].create({'name': 'two'})
        first = self.step('first')
        batch = records.delayable(job_size=1, done_method=MODEL + '.batch_done') \
            .chains_step('chains-unit', step='batch')
        last = self.step('last')
        chain(first, batch, last).delay()
        children = batch.job.child_ids
        self.assertEqual((self.state(batch), set(children.mapped('state'))),
                         ('waiting', {'waiting'}))
        self.end(first)
        children.invalidate_cache()
        self.assertEqual((self.state(batch), set(children.mapped('state'))),
                         ('waiting', {'pending'}))
        self.env.cr.execute("UPDATE queue_job SET state = 'done' WHERE id = %s", (batch.job.id,))
        self.assertEqual(self.state(last), 'pending')

    def test_the_form_shows_dependencies_and_dependents_with_their_states(self):
        a, b = self.step('a'), self.step('b')
        chain(a, b).delay()
        view = self.Job.fields_view_get(view_type='form')
        for name in ('dependency_ids', 'dependent_ids'):
            self.assertIn('state', view['fields'][name]['views']['tree']['fields'])
        self.assertEqual(b.job.read(['dependency_ids'])[0]['dependency_ids'], [a.job.id])
        self.assertEqual(a.job.dependent_ids.read(['state']), [{'id': b.job.id,
                                                                 'state': 'waiting'}])
