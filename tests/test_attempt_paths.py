"""The four paths that run jobs give the same outcomes (engine/attempt.py):
a worker, run_now, a batch run now and trap_jobs().perform(). Each path
runs in its own committed transaction; the rows are then read as a worker
would have left them."""
import json

from odoo.addons.background_job import FailedJobError, RetryableJobError
from odoo.addons.background_job.testing import trap_jobs

from .common import BatchHelpers, running, wait_for
from .test_worker import WorkerCase

RUN_NOW = {'background_job_run_now': True}
PATHS = ('worker', 'run_now', 'trap')


class TestAttemptPaths(BatchHelpers, WorkerCase):

    def setUp(self):
        super().setUp()
        # markers of this test's jobs (the tests share one database)
        self.marker = {path: '%s-%s' % (path, self._testMethodName) for path in PATHS}

    # -- one failing job ----------------------------------------------------
    def job_of(self, marker):
        return self.db.query("SELECT id FROM queue_job WHERE args LIKE %s "
                             "AND is_batch IS NOT TRUE", ('%%"%s"%%' % marker,))[0][0]

    def outcome(self, path):
        """What a failed attempt left: comparable across paths."""
        marker = self.marker[path]
        job_id = self.job_of(marker)
        job = self.job(job_id)
        retry_later = self.db.query(
            "SELECT eta > (now() AT TIME ZONE 'UTC') + interval '50 minutes' FROM queue_job "
            "WHERE id = %s", (job_id,))[0][0]
        notified = [message for (message,) in self.db.query(
            "SELECT message FROM bus_bus WHERE channel LIKE %s", ('%failed%',))
            if json.loads(message).get('id') == job_id]
        return {'state': job['state'], 'retry': job['retry'], 'exc_type': job['exc_type'],
                'exc_message': job['exc_message'].replace(marker, '<marker>'),
                'traceback': job['exc_type'] in (job['exc_info'] or ''),
                'started': job['date_started'] is not None, 'worker_id': job['worker_id'],
                'retry_later': retry_later, 'notified': len(notified),
                'work_kept': self.db.log_count(marker)}

    def fail_on_every_path(self, method, error, options, *args):
        """The outcome of ``method(<path>, *args)`` delayed with ``options``,
        on each path (one attempt each)."""
        marker = self.marker
        with self.db.env() as env:
            getattr(self.make_record(env).with_delay(**options), method)(marker['worker'], *args)
        with running(self.db.runner(threads=1)):
            wait_for(lambda: self.job(self.job_of(marker['worker']))['exc_type'], 60,
                     message="the worker's attempt recorded")
        with self.db.env() as env:
            delayed = self.make_record(env).with_context(RUN_NOW).with_delay(**options)
            with self.assertRaises(error):
                getattr(delayed, method)(marker['run_now'], *args)
        with self.db.env() as env:
            with trap_jobs(env) as trap:
                getattr(self.make_record(env).with_delay(**options), method)(marker['trap'], *args)
            with self.assertRaises(error):
                trap.perform()
        return {path: self.outcome(path) for path in PATHS}

    def assert_alike(self, outcomes):
        worker = outcomes.pop('worker')
        for path, outcome in outcomes.items():
            self.assertEqual(outcome, worker, path)
        return worker

    def test_a_job_failing_for_good_ends_alike_on_every_path(self):
        worker = self.assert_alike(self.fail_on_every_path(
            'log_then_fail', ValueError, {'max_retries': 0}))
        self.assertEqual((worker['state'], worker['retry'], worker['exc_type'],
                          worker['exc_message'], worker['notified'], worker['work_kept']),
                         ('failed', 0, 'ValueError', 'boom <marker>', 1, 0))

    def test_a_job_asking_for_a_retry_ends_alike_on_every_path(self):
        worker = self.assert_alike(self.fail_on_every_path(
            'ask_retry', RetryableJobError, {'max_retries': 1}, 3600))
        self.assertEqual((worker['state'], worker['retry'], worker['retry_later'],
                          worker['notified'], worker['work_kept'], worker['worker_id']),
                         ('pending', 1, True, 0, 0, None))

    # -- the last job of a batch ------------------------------------------------
    def batch_outcome(self, batch_id):
        batch = self.batch(batch_id)
        batch.pop('done_job')
        children = self.db.query("SELECT state, retry, exc_type FROM queue_job "
                                 "WHERE parent_id = %s ORDER BY id", (batch_id,))
        return dict(batch, children=children, done_calls=len(self.done_calls(batch_id)),
                    done_jobs=[(state, retry) for _, state, retry in self.done_jobs(batch_id)])

    def batch_on_every_path(self, value, error=None):
        """A batch of one job over two records of ``value`` (negative: the
        job fails for good), on each path; a done job that a path enqueued
        but did not run is then run by a worker, as it would be, so that
        every batch has ended."""
        ids = self.make_records(2)
        self.db.query('UPDATE background_job_test_record SET value = %s WHERE id = ANY(%s)',
                      (value, ids))
        with self.db.env() as env:
            self.start(env['queue.job'], ids, self.marker['worker'])
        with self.db.env() as env:
            if error:
                with self.assertRaises(error):
                    self.start(env['queue.job'].with_context(RUN_NOW), ids, self.marker['run_now'])
            else:
                self.start(env['queue.job'].with_context(RUN_NOW), ids, self.marker['run_now'])
        with self.db.env() as env:
            with trap_jobs(env) as trap:
                self.start(env['queue.job'], ids, self.marker['trap'])
            with trap_jobs(env) as done_job:  # the done job the last job enqueues
                if error:
                    with self.assertRaises(error):
                        trap.perform()
                else:
                    trap.perform()
            self.assertEqual(len(done_job.jobs), 1)
            if not error:
                done_job.perform()
        batch_ids = {path: self.batch_of(self.marker[path]) for path in PATHS}
        with running(self.db.runner(threads=1)):
            for batch_id in batch_ids.values():
                self.wait_batch_state(batch_id, {'done', 'failed', 'cancelled'})
        return {path: self.batch_outcome(batch_id) for path, batch_id in batch_ids.items()}

    def start(self, jobs, ids, marker):
        return jobs.batch_execute_job(self.MODEL, 'batch_chunk', ids, args=(marker,),
                                      job_size=10, done_method=self.DONE)

    def batch_of(self, marker):
        return self.db.query("SELECT id FROM queue_job WHERE is_batch AND args LIKE %s",
                             ('%%"%s"%%' % marker,))[0][0]

    def test_the_last_job_of_a_batch_ends_it_alike_on_every_path(self):
        worker = self.assert_alike(self.batch_on_every_path(0))
        self.assertEqual((worker['state'], worker['batch_state'], worker['children'],
                          worker['done_calls'], worker['done_jobs']),
                         ('done', 'done', [('done', 0, None)], 1, [('done', 0)]))

    def test_a_failing_last_job_of_a_batch_ends_it_alike_on_every_path(self):
        worker = self.assert_alike(self.batch_on_every_path(-1, FailedJobError))
        self.assertEqual((worker['state'], worker['batch_state'], worker['children'],
                          worker['done_calls'], worker['done_jobs']),
                         ('done', 'done_with_failures', [('failed', 0, 'FailedJobError')],
                          1, [('done', 0)]))
