"""Batches: one call splits a record set into jobs under a parent, and the
done method runs once when every job has finished."""
import doctest
import json
import time

from odoo import SUPERUSER_ID
from odoo.exceptions import AccessError
from odoo.tests.common import TransactionCase

from odoo.addons.background_job.engine import batch as engine_batch

from .common import BatchHelpers, CommittedDatabaseCase, running

MODEL = BatchHelpers.MODEL
DONE = BatchHelpers.DONE


def test_the_examples_of_engine_batch_hold():
    assert doctest.testmod(engine_batch).failed == 0


class TestBatchCall(TransactionCase):
    """What batch_execute_job and delay_batch write, and what they refuse
    (nothing is committed)."""

    def setUp(self):
        super().setUp()
        self.Job = self.env['queue.job']
        self.records = self.env[MODEL].create({'name': 'a'}) | self.env[MODEL].create({'name': 'b'}) \
            | self.env[MODEL].create({'name': 'c'})

    def test_batch_is_a_waiting_parent_with_one_pending_job_per_chunk(self):
        batch = self.Job.batch_execute_job(
            MODEL, 'batch_chunk', self.records.ids, done_method=DONE, job_size=2,
            job_res_id=42, args=('m',), kwargs={'seconds': 0}, channel='root.match', priority=5)
        self.assertEqual((batch.state, batch.is_batch, batch.batch_state), ('waiting', True, 'running'))
        self.assertEqual((batch.done_method, batch.job_res_id, batch.job_size), (DONE, 42, 2))
        children = batch.child_ids.sorted('id')
        self.assertEqual([json.loads(child.record_ids) for child in children],
                         [self.records.ids[:2], self.records.ids[2:]])
        for child in children:
            self.assertEqual((child.state, child.model_name, child.method_name, child.channel,
                              child.priority, child.user_id), ('pending', MODEL, 'batch_chunk',
                                                               'root.match', 5, self.env.user))
            self.assertEqual((json.loads(child.args), json.loads(child.kwargs)),
                             (['m'], {'seconds': 0}))
        self.assertEqual((batch.batch_total, batch.batch_done, batch.batch_progress), (2, 0, 0.0))

    def test_delay_batch_splits_the_records_it_is_called_on(self):
        batch = self.records.batch_chunk.delay_batch('m', job_size=1, done_method=DONE)
        self.assertEqual(sorted(json.loads(c.record_ids)[0] for c in batch.child_ids),
                         sorted(self.records.ids))
        self.assertEqual(json.loads(batch.child_ids[0].args), ['m'])

    def test_a_bad_call_is_refused_clearly_and_writes_nothing(self):
        before = self.Job.search_count([])
        bad_calls = [
            (dict(done_method='no.such.model.finish'), ValueError, "model 'no.such.model' does not exist"),
            (dict(done_method=MODEL + '.no_such_method'), ValueError, 'has no method no_such_method'),
            (dict(done_method=MODEL + '._private'), ValueError, 'must be public'),
            (dict(done_method='finish'), ValueError, "is not '<model name>.<method>'"),
            (dict(job_size=0), ValueError, 'job_size must be'),
            (dict(args=(object(),)), TypeError, 'argument #1 of background.job.test.record.batch_chunk'),
            (dict(method_name='not_a_job'), AttributeError, 'only methods decorated with @job'),
            (dict(model_name='queue.job', method_name='_run_batch_done_method'), ValueError,
             'a batch runs public @job methods only'),
            (dict(model_name='no.such.model'), ValueError, "model 'no.such.model' does not exist"),
        ]
        for options, error, message in bad_calls:
            call = dict(model_name=MODEL, method_name='batch_chunk', record_ids=self.records.ids,
                        done_method=DONE, args=('m',))
            call.update(options)
            with self.subTest(options=options), self.assertRaises(error) as caught:
                self.Job.batch_execute_job(**call)
            self.assertIn(message, str(caught.exception))
        self.assertEqual(self.Job.search_count([]), before)

    def test_users_cancel_their_own_batches_only_and_requeue_is_for_managers(self):
        user = self.env['res.users'].create({'name': 'Batch User', 'login': 'batchuser'})
        theirs = self.Job.sudo(user).batch_execute_job(MODEL, 'noop', self.records.ids)
        mine = self.Job.batch_execute_job(MODEL, 'noop', self.records.ids)
        with self.assertRaises(AccessError):
            mine.sudo(user).cancel_batch()
        with self.assertRaises(AccessError):
            theirs.sudo(user).requeue_batch()
        theirs.sudo(user).cancel_batch()
        self.assertEqual((theirs.state, mine.state), ('cancelled', 'waiting'))
        self.assertEqual(set(theirs.child_ids.mapped('state')), {'cancelled'})

    def test_100000_ids_split_in_one_statement(self):
        """Speed sanity only (bench/ is for timing): every id once, in order."""
        ids = list(range(1, 100001))
        started = time.monotonic()
        batch = self.Job.batch_execute_job(MODEL, 'noop', ids, job_size=100)
        elapsed = time.monotonic() - started
        self.env.cr.execute('SELECT record_ids FROM queue_job WHERE parent_id = %s ORDER BY id',
                            (batch.id,))
        chunks = [json.loads(row[0]) for row in self.env.cr.fetchall()]
        self.assertEqual(len(chunks), 1000)
        self.assertEqual([i for chunk in chunks for i in chunk], ids)
        print('split 100,000 ids into 1,000 jobs in %.2f s' % elapsed)

    def test_run_now_runs_every_chunk_then_the_done_method_in_the_call(self):
        records = self.records.with_context(background_job_run_now=True)
        batch = records.batch_chunk.delay_batch('now', job_size=2, done_method=DONE)
        Log = self.env['background.job.test.log']
        self.assertEqual(Log.search_count([('marker', '=', 'now')]), 2)
        self.assertEqual(Log.search_count([('marker', '=', 'batch-done:%d' % batch.id)]), 1)
        self.assertEqual((batch.state, batch.batch_done), ('done', 2))


class BatchCase(BatchHelpers, CommittedDatabaseCase):
    """Batches run by workers in this process, with real commits. No cron
    runs here: a done method that runs was enqueued by a worker."""


class TestBatchRun(BatchCase):

    def test_10000_ids_make_100_jobs_and_the_done_method_runs_once_right_after(self):
        ids = self.make_records(10000)
        with self.db.env() as env:
            report = env[MODEL].create({'name': 'report'})
        batch_id = self.start_batch(ids, 'big', job_size=100, job_res_id=report.id)
        self.assertEqual(self.batch(batch_id)['total'], 100)
        with running(self.db.runner(threads=2)):
            batch = self.wait_batch_state(batch_id, {'done'}, timeout=300)
        self.assertEqual(self.db.log_count('big'), 100)
        logged_ids = [i for (info,) in self.db.query(
            "SELECT info FROM background_job_test_log WHERE marker = 'big'") for i in json.loads(info)]
        self.assertEqual(sorted(logged_ids), sorted(ids))
        (call,) = self.done_calls(batch_id)  # exactly once, for this batch_job_id
        self.assertEqual((call['res_id'], call['uid'], call['unfinished']), (report.id, SUPERUSER_ID, 0))
        self.assertEqual((call['total'], call['done'], call['failed']), (100, 100, 0))
        self.assertEqual(call['job_id'], batch['done_job'])
        self.assertEqual((batch['batch_state'], batch['done_job_state']), ('done', 'done'))
        (gap,) = self.db.query(
            "SELECT extract(epoch FROM done_job.date_started - max(child.date_done)) "
            "FROM queue_job child, queue_job done_job "
            "WHERE child.parent_id = %s AND done_job.id = %s GROUP BY done_job.date_started",
            (batch_id, batch['done_job']))[0]
        self.assertGreaterEqual(gap, 0)
        self.assertLess(gap, 10, 'the done method should start seconds after the last job')

    def test_failed_jobs_still_end_the_batch_and_the_done_method_counts_them(self):
        ids = self.make_records(100)
        self.db.query('UPDATE background_job_test_record SET value = -1 WHERE id = ANY(%s)',
                      ([ids[0], ids[35], ids[99]],))
        batch_id = self.start_batch(ids, 'some-fail', job_size=10)
        with running(self.db.runner(threads=2)):
            batch = self.wait_batch_state(batch_id, {'done'})
        (call,) = self.done_calls(batch_id)
        self.assertEqual((call['total'], call['done'], call['failed']), (10, 7, 3))
        self.assertEqual((batch['batch_state'], batch['failed']), ('done_with_failures', 3))

    def test_jobs_finishing_together_on_several_threads_enqueue_each_done_method_once(self):
        batch_ids = [self.start_batch(self.make_records(4), 'together', job_size=1, seconds=0.3)
                     for _ in range(8)]
        with running(self.db.runner(threads=4)):
            for batch_id in batch_ids:
                self.wait_batch_state(batch_id, {'done'})
        for batch_id in batch_ids:
            self.assertEqual(len(self.done_calls(batch_id)), 1)
            self.assertEqual(len(self.done_jobs(batch_id)), 1)

    def test_the_done_method_runs_as_the_user_and_company_who_started_the_batch(self):
        with self.db.env() as env:
            user = env['res.users'].create({'name': 'Batch User', 'login': 'batchuser'})
            uid, company = user.id, user.company_id.id
        batch_id = self.start_batch(self.make_records(3), 'as-user', uid=uid, job_size=2)
        with running(self.db.runner()):
            self.wait_batch_state(batch_id, {'done'})
        (call,) = self.done_calls(batch_id)
        self.assertEqual((call['uid'], call['company'], call['res_id']), (uid, company, None))

    def test_a_failing_done_method_is_recorded_and_retried_like_any_job(self):
        batch_id = self.start_batch(self.make_records(2), 'flaky', job_size=1,
                                    done_method=MODEL + '.batch_done_flaky')
        with running(self.db.runner()):
            self.wait_batch_state(batch_id, {'done'})
        self.assertEqual(len(self.done_calls(batch_id)), 1)
        ((_, state, retry),) = self.done_jobs(batch_id)
        self.assertEqual((state, retry), ('done', 1))

    def test_an_empty_batch_runs_its_done_method_at_once(self):
        batch_id = self.start_batch([], 'empty')
        with running(self.db.runner()):
            batch = self.wait_batch_state(batch_id, {'done'})
        (call,) = self.done_calls(batch_id)
        self.assertEqual((call['total'], batch['batch_state']), (0, 'done'))

    def test_a_batch_without_done_method_ends_done_when_its_last_job_finished(self):
        batch_id = self.start_batch(self.make_records(4), 'no-done', job_size=2,
                                    done_method=None)
        with running(self.db.runner()):
            batch = self.wait_batch_state(batch_id, {'done'})
        self.assertEqual((batch['done'], batch['done_job']), (2, False))
        self.assertEqual(self.db.log_count('no-done'), 2)


class TestNestedBatch(BatchCase):

    def test_a_job_that_starts_a_batch_makes_the_outer_done_method_wait_for_it(self):
        ids = self.make_records(4)
        with self.db.env() as env:
            outer = env['queue.job'].batch_execute_job(
                MODEL, 'start_inner_batch', ids, done_method=DONE, job_size=2,
                args=('inner', 1)).id
        with running(self.db.runner(threads=2)):
            self.wait_batch_state(outer, {'done'})
        inner = [row[0] for row in self.db.query(
            'SELECT id FROM queue_job WHERE parent_id = %s AND is_batch ORDER BY id', (outer,))]
        self.assertEqual(len(inner), 2)
        self.assertEqual(self.db.log_count('inner'), 4)
        (outer_call,) = self.done_calls(outer)
        last_inner_log = self.db.query(
            "SELECT max(id) FROM background_job_test_log WHERE marker = ANY(%s)",
            (['batch-done:%d' % batch_id for batch_id in inner],))[0][0]
        first_outer_log = self.db.query(
            "SELECT min(id) FROM background_job_test_log WHERE marker = %s",
            ('batch-done:%d' % outer,))[0][0]
        self.assertGreater(first_outer_log, last_inner_log, 'outer done method ran first')
        for batch_id in inner:
            self.assertEqual(len(self.done_calls(batch_id)), 1)
            self.assertEqual(self.batch(batch_id)['state'], 'done')
        # its jobs: 2 outer jobs, 2 inner batches, the 2 inner done method jobs
        self.assertEqual((outer_call['total'], outer_call['unfinished']), (6, 0))


class TestBatchActions(BatchCase):

    def test_cancel_batch_cancels_its_jobs_and_requeue_batch_runs_them_again(self):
        batch_id = self.start_batch(self.make_records(6), 'cancel', job_size=2)
        with self.db.env() as env:
            env['queue.job'].browse(batch_id).cancel_batch()
        batch = self.batch(batch_id)
        self.assertEqual((batch['state'], batch['batch_state']), ('cancelled', 'cancelled'))
        self.assertEqual(self.db.query('SELECT array_agg(DISTINCT state) FROM queue_job '
                                       'WHERE parent_id = %s', (batch_id,))[0][0], ['cancelled'])
        with running(self.db.runner()):
            with self.db.env() as env:
                env['queue.job'].browse(batch_id).requeue_batch()
            batch = self.wait_batch_state(batch_id, {'done'})
        self.assertEqual(self.db.log_count('cancel'), 3)
        self.assertEqual(len(self.done_calls(batch_id)), 1)
        self.assertEqual(batch['done'], 3)

    def test_requeue_batch_reruns_failed_jobs_and_the_done_method_once_more(self):
        ids = self.make_records(10)
        self.db.query('UPDATE background_job_test_record SET value = -1 WHERE id = %s', (ids[3],))
        batch_id = self.start_batch(ids, 'requeue', job_size=2)
        with running(self.db.runner()):
            self.wait_batch_state(batch_id, {'done'})
            self.db.query('UPDATE background_job_test_record SET value = 0 WHERE id = %s', (ids[3],))
            with self.db.env() as env:
                env['queue.job'].browse(batch_id).requeue_batch()
            self.assertEqual(self.batch(batch_id)['state'], 'waiting')
            batch = self.wait_batch_state(batch_id, {'done'})
        first, second = self.done_calls(batch_id)
        self.assertEqual((first['done'], first['failed']), (4, 1))
        self.assertEqual((second['done'], second['failed']), (5, 0))
        self.assertEqual(batch['batch_state'], 'done')

    def test_cron_finishes_a_batch_the_workers_missed_once_even_when_run_twice_at_once(self):
        batch_id = self.start_batch(self.make_records(4), 'cron', job_size=2)
        # jobs closed without a worker (as by hand): nobody enqueued the done method
        self.db.query("UPDATE queue_job SET state = 'done' WHERE parent_id = %s", (batch_id,))
        errors = self.race_finish_crons()
        self.assertEqual(errors, [])
        self.assertEqual(len(self.done_jobs(batch_id)), 1)
        with self.db.env() as env:
            env['queue.job']._cron_finish_batches()  # again, later: nothing to do
        self.assertEqual(len(self.done_jobs(batch_id)), 1)
        with running(self.db.runner()):
            self.wait_batch_state(batch_id, {'done'})
        self.assertEqual(len(self.done_calls(batch_id)), 1)

    def test_purge_cron_removes_old_finished_jobs_and_batches_with_their_jobs(self):
        old_batch = self.start_batch(self.make_records(2), 'old', job_size=1, done_method=None)
        recent = self.start_batch(self.make_records(2), 'recent', job_size=1, done_method=None)
        self.db.query("UPDATE queue_job SET state = 'done', date_done = now() - interval '30 days' "
                      "WHERE id = %s OR parent_id = %s", (old_batch, old_batch))
        self.db.query("UPDATE queue_job SET state = 'done', date_done = now() "
                      "WHERE id = %s OR parent_id = %s", (recent, recent))
        with self.db.env() as env:
            env['queue.job']._cron_purge_finished()
        left = dict(self.db.query('SELECT coalesce(parent_id, id), count(*) FROM queue_job '
                                  'WHERE id IN %s OR parent_id IN %s GROUP BY 1',
                                  ((old_batch, recent), (old_batch, recent))))
        self.assertEqual(left, {recent: 3})
