"""Time limits, Stop and shutdown: the pure pieces (engine/watchdog.py,
timeout precedence, bad inputs), the attempt guard, and a runner in this
process whose ended attempt's thread wakes up later. The server-process
scenarios are in tests/test_faults_limits.py and test_faults_shutdown.py."""
import threading
import time
import unittest

from odoo.exceptions import UserError
from odoo.tests.common import TransactionCase

from odoo.addons.background_job import JobTimeoutError, job
from odoo.addons.background_job.engine import store, watchdog
from odoo.addons.background_job.engine.attempt import transaction
from odoo.addons.background_job.engine.exceptions import JobInterrupted, JobStoppedError
from odoo.addons.background_job.engine.job_method import JobMethod
from odoo.addons.background_job.engine.retry import RetryPolicy
from odoo.addons.background_job.service.server import connect

from .common import CommittedDatabaseCase, running, wait_for

MODEL = 'background.job.test.record'


class FakeJob:
    def __init__(self, job_id=1):
        self.id = job_id


def start_in_thread(target):
    """Run ``target`` in a daemon thread; returns (thread, outcome dict)."""
    outcome = {}

    def run():
        try:
            outcome['result'] = target()
        except BaseException as error:  # the test reads it
            outcome['error'] = error
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


class TestTimeoutRules(unittest.TestCase):

    def test_the_call_wins_over_the_method_which_wins_over_the_server(self):
        self.assertEqual(watchdog.effective_timeout(None, None, 3600), 3600)
        self.assertEqual(watchdog.effective_timeout(None, 30, 3600), 30)
        self.assertEqual(watchdog.effective_timeout(5, 30, 3600), 5)
        self.assertEqual(watchdog.effective_timeout(0, 30, 3600), 0)  # 0: no limit

    def test_negative_or_non_whole_timeouts_are_refused(self):
        for bad in (-1, 1.5, '10', True):
            with self.assertRaisesRegex(ValueError, r'whole seconds >= 0 \(0: no limit\)'):
                watchdog.check_timeout(bad)
        self.assertEqual(watchdog.check_timeout(0), 0)
        self.assertIsNone(watchdog.check_timeout(None))

    def test_a_job_method_with_a_negative_timeout_is_refused_when_decorated(self):
        with self.assertRaisesRegex(ValueError, r'@job\(timeout=\) must be whole seconds'):
            job(timeout=-5)(lambda self: None)
        self.assertEqual(JobMethod(lambda self: None, timeout=0).timeout, 0)


class TestRunningAttempt(unittest.TestCase):
    """The watchdog's bookkeeping with real threads (bounded waits)."""

    def attempt(self, timeout=2, thread=None, started=100.0):
        return watchdog.RunningAttempt(FakeJob(), timeout, RetryPolicy(), started,
                                       thread or threading.current_thread())

    def test_an_attempt_is_due_at_its_deadline_or_after_a_stop_grace(self):
        attempt = self.attempt(timeout=2)
        self.assertIsNone(attempt.due(101.9))
        self.assertEqual(attempt.due(102.0), watchdog.TIMEOUT)
        self.assertIsNone(self.attempt(timeout=0).due(10 ** 9), '0: no limit')
        stopped = self.attempt(timeout=0)
        stopped.request_stop('Ann', now=50.0)
        self.assertIsNone(stopped.due(50.0 + watchdog.STOP_GRACE - 0.01))
        self.assertEqual(stopped.due(50.0 + watchdog.STOP_GRACE), watchdog.STOP)
        self.assertEqual(stopped.next_check(), 50.0 + watchdog.STOP_GRACE)

    def test_taking_over_interrupts_python_code_and_the_thread_records_nothing(self):
        go, ready = threading.Event(), threading.Event()
        holder = {}

        def job_code():
            with holder['attempt'].job_code():
                ready.set()
                end = time.monotonic() + 30
                while time.monotonic() < end:
                    pass
            return 'returned'
        thread, outcome = start_in_thread(lambda: go.wait(10) and job_code())
        holder['attempt'] = self.attempt(thread=thread, started=time.monotonic())
        go.set()
        self.assertTrue(ready.wait(10))
        self.assertTrue(holder['attempt'].take_over(watchdog.TIMEOUT))
        self.assertFalse(holder['attempt'].take_over(watchdog.TIMEOUT), 'once')
        holder['attempt'].terminated()
        thread.join(10)
        self.assertFalse(thread.is_alive())
        self.assertIsInstance(outcome.get('error'), JobInterrupted)
        error = holder['attempt'].error
        self.assertIsInstance(error, JobTimeoutError)
        self.assertEqual(str(error), 'ran longer than 2 s')
        self.assertIn('in job_code', error.stack)  # where the job was

    def test_a_thread_that_left_the_job_code_owns_its_outcome(self):
        attempt = self.attempt()
        with attempt.job_code():
            pass
        self.assertFalse(attempt.take_over(watchdog.TIMEOUT))
        self.assertIsNone(attempt.due(10 ** 9))

    def test_a_job_that_returns_after_a_stop_request_is_stopped_anyway(self):
        attempt = self.attempt()
        with self.assertRaisesRegex(JobStoppedError, '^stopped by Ann$'):
            with attempt.job_code():
                attempt.request_stop('Ann', now=0)
        self.assertFalse(attempt.take_over(watchdog.STOP), 'the thread records it')

    def test_a_thread_that_does_not_come_back_is_abandoned_once(self):
        attempt = self.attempt(started=time.monotonic())
        self.assertTrue(attempt.take_over(watchdog.TIMEOUT))
        now = attempt.taken_over_at
        self.assertFalse(attempt.abandon_if_stuck(now + watchdog.ABANDON_AFTER - 0.1))
        self.assertTrue(attempt.abandon_if_stuck(now + watchdog.ABANDON_AFTER))
        self.assertFalse(attempt.abandon_if_stuck(now + 60), 'once')
        self.assertTrue(attempt.finish(), 'the thread learns it was abandoned')

    def test_the_watchdog_lists_due_attempts_and_forgets_ended_ones(self):
        dog = watchdog.Watchdog()
        attempt = dog.begin(FakeJob(7), 2, RetryPolicy(), 100.0)
        self.assertIs(watchdog.current_attempt(), attempt)
        self.assertEqual(dog.next_check(), 102.0)
        self.assertEqual(dog.due(102.5), [(attempt, watchdog.TIMEOUT)])
        self.assertEqual(list(dog.running()), [7])
        self.assertFalse(dog.end(attempt))
        self.assertIsNone(watchdog.current_attempt())
        self.assertEqual(len(dog), 0)


class TestStopInputs(TransactionCase):

    def test_stop_on_a_job_that_is_not_running_says_so(self):
        record = self.env[MODEL].create({'name': 'pending'})
        pending = record.log_run.delay('never-started')
        with self.assertRaisesRegex(UserError, 'Only running jobs can be stopped') as caught:
            pending.stop()
        self.assertIn(pending.display_name, str(caught.exception))

    def test_the_purge_cron_removes_stop_requests_that_no_attempt_took(self):
        record = self.env[MODEL].create({'name': 'ended first'})
        ended = record.log_run.delay('ended first')
        self.env.cr.execute("INSERT INTO queue_job_stop_request VALUES "
                            "(%s, now(), 'Ann', now())", (ended.id,))
        self.env['queue.job']._cron_purge_finished()
        self.env.cr.execute('SELECT count(*) FROM queue_job_stop_request WHERE job_id = %s',
                            (ended.id,))
        self.assertEqual(self.env.cr.fetchone()[0], 0)

    def test_stop_requested_is_false_outside_jobs(self):
        self.assertIs(self.env['queue.job'].stop_requested(), False)

    def test_a_negative_timeout_is_refused_at_with_delay_and_zero_means_no_limit(self):
        record = self.env[MODEL].create({'name': 'limits'})
        with self.assertRaisesRegex(ValueError, r'with_delay\(timeout=\) must be whole seconds'):
            record.with_delay(timeout=-1)
        self.assertEqual(record.with_delay(timeout=0).limits_sleep('zero').timeout, 0)
        self.assertEqual(record.limits_sleep.delay('method').timeout, 2)  # @job(timeout=2)
        self.assertEqual(record.with_delay(timeout=9).limits_sleep('call').timeout, 9)
        unset = record.log_run.delay('none')
        self.env.cr.execute('SELECT timeout FROM queue_job WHERE id = %s', (unset.id,))
        self.assertIsNone(self.env.cr.fetchone()[0], 'not given: the server\'s limit')

    def test_the_backend_shows_the_time_limit_each_job_runs_under(self):
        record = self.env[MODEL].create({'name': 'limits'})
        jobs = (record.log_run.delay('server'), record.limits_sleep.delay('method'),
                record.with_delay(timeout=0).limits_sleep('none'),
                record.with_delay(timeout=9).log_run('call'))
        self.assertEqual([job.time_limit for job in jobs], [3600, 2, 0, 9])


class TestLateThread(CommittedDatabaseCase):

    def job(self, job_id):
        keys = ('state', 'retry', 'exc_type', 'exc_message', 'exc_info', 'worker_id')
        return dict(zip(keys, self.db.query(
            'SELECT %s FROM queue_job WHERE id = %%s' % ', '.join(keys), (job_id,))[0]))

    def test_a_thread_that_wakes_after_its_attempt_ended_writes_nothing(self):
        # 2 s limit, retried 1 s later: attempt 1's thread wakes from its
        # 4.5 s sleep while attempt 2 of the same job runs on this worker
        with self.db.env() as env:
            job_id = env[MODEL].create({'name': 'late'}).limits_sleep_retried.delay(
                'late', 4.5).id
        runner = self.db.runner(threads=2)
        with running(runner):
            wait_for(lambda: self.job(job_id)['state'] == 'failed', 60, interval=0.1,
                     message='the job failed for good after 3 attempts')
            abandoned = len(runner.watchdog.abandoned_threads)
            time.sleep(3)  # the last attempt's thread wakes too
            final = self.job(job_id)
        self.assertEqual((final['state'], final['retry'], final['exc_type'], final['exc_message']),
                         ('failed', 2, 'JobTimeoutError', 'ran longer than 2 s'))
        self.assertIn('limits_sleep_retried', final['exc_info'])
        self.assertIn('time.sleep(seconds)', final['exc_info'])
        self.assertEqual(self.db.query(
            "SELECT marker, count(*) FROM background_job_test_log WHERE marker LIKE 'late%%' "
            "GROUP BY marker"), [], 'nothing of an ended attempt is committed')
        self.assertGreaterEqual(abandoned, 1, 'a thread asleep past ABANDON_AFTER is replaced')

    def test_a_job_with_timeout_0_runs_past_the_server_limit(self):
        with self.db.env() as env:
            job_id = env[MODEL].create({'name': 'unlimited'}).limits_no_limit.delay(3).id
        with running(self.db.runner(threads=1, timeout=1)):
            wait_for(lambda: self.job(job_id)['state'] == 'done', 30, message='done')

    def test_the_server_limit_applies_when_the_job_gives_none(self):
        with self.db.env() as env:
            job_id = env[MODEL].create({'name': 'server limit'}).with_delay(
                max_retries=0).sleep_and_log('server-limit', 30).id
        with running(self.db.runner(threads=1, timeout=1)):
            wait_for(lambda: self.job(job_id)['state'] == 'failed', 30, message='failed')
        self.assertEqual(self.job(job_id)['exc_message'], 'ran longer than 1 s')

    def test_statements_of_another_attempt_of_the_job_change_nothing(self):
        with self.db.env() as env:
            job_id = env[MODEL].create({'name': 'guard'}).log_run.delay('guard').id
        worker_id = self.db.query("INSERT INTO queue_job_worker (uuid, host, pid, threads) "
                                  "VALUES ('guard', 'h', 0, 1) RETURNING id")[0][0]
        started = self.db.query(
            "UPDATE queue_job SET state = 'started', worker_id = %s, "
            "date_started = now() AT TIME ZONE 'UTC' WHERE id = %s RETURNING date_started",
            (worker_id, job_id))[0][0]
        connection = connect(self.db.name)
        connection.autocommit = True
        self.addCleanup(connection.close)
        earlier = '2000-01-01 00:00:00'
        with transaction(connection) as cr:
            self.assertFalse(store.mark_failed(
                cr, job_id, worker_id, retry=False, delay=0, exec_time=1, exc_type='X',
                exc_message='late', exc_info='', date_started=earlier))
            store.release(cr, job_id, worker_id, earlier)
        self.assertEqual(self.job(job_id)['state'], 'started')
        with transaction(connection) as cr:
            self.assertTrue(store.mark_failed(
                cr, job_id, worker_id, retry=False, delay=0, exec_time=1, exc_type='X',
                exc_message='this attempt', exc_info='', date_started=started))
        self.assertEqual(self.job(job_id)['state'], 'failed')
