"""Honest timestamps: a job's date_done is when it ended, on every path,
not when its transaction began (issue 10, item 7)."""
from .common import running, wait_for
from .test_worker import WorkerCase

SLEEP = 2


class TestHonestTimestamps(WorkerCase):

    def dates(self, job_id, since=None):
        """The job's state, exec_time, and its dates as seconds after
        ``since`` (a UTC timestamp; default: its date_started)."""
        return dict(zip(('state', 'exec_time', 'started', 'done', 'eta'), self.db.query(
            'SELECT state, exec_time, extract(epoch FROM date_started - base), '
            'extract(epoch FROM date_done - base), extract(epoch FROM eta - base) '
            'FROM queue_job, COALESCE(%s::timestamp, date_started) base WHERE id = %s',
            (since, job_id))[0]))

    def test_a_worker_ends_a_job_that_slept_2_s_at_least_2_s_after_it_started(self):
        with self.db.env() as env:
            record = self.make_record(env)
            done_id = record.faults_sleep.delay('faults-ts-done', SLEEP).id
            failed_id = record.faults_sleep_then_fail.delay('faults-ts-failed', SLEEP).id
            retried_id = record.sleep_then_fail.delay('faults-ts-retried', SLEEP).id
        with running(self.db.runner(threads=3)):
            self.wait_state(done_id, {'done'})
            self.wait_state(failed_id, {'failed'})
            wait_for(lambda: self.job(retried_id)['retry'] >= 1, 60, message='a retry')
            retried = self.dates(retried_id)
        for job_id, state in ((done_id, 'done'), (failed_id, 'failed')):
            job = self.dates(job_id)
            self.assertEqual(job['state'], state)
            ran = job['done']
            self.assertGreaterEqual(ran, SLEEP, '%s job: Finished only %.3f s after Started'
                                    % (state, ran))
            self.assertLess(ran, SLEEP + 30)
            # the execution time agrees with the dates
            self.assertGreaterEqual(job['exec_time'], SLEEP)
            self.assertLessEqual(job['exec_time'], ran + 0.01)
        # a retry waits its delay (1 s) from the failure, not from the start
        self.assertIsNone(retried['done'])
        self.assertGreaterEqual(retried['eta'], SLEEP + 1)

    def test_run_now_and_admin_changes_stamp_the_moment_they_happen(self):
        with self.db.env(context={'background_job_run_now': True}) as env:
            env.cr.execute("SELECT now() AT TIME ZONE 'UTC', pg_sleep(1)")
            began = env.cr.fetchone()[0]
            record = self.make_record(env)
            now_id = record.faults_sleep.delay('faults-ts-now', SLEEP).id
            pending = record.with_context(background_job_run_now=False).log_run.delay('c')
            env.cr.execute('SELECT pg_sleep(0.5)')
            pending.cancel()
        job = self.dates(now_id, since=began)
        self.assertEqual(job['state'], 'done')
        self.assertGreaterEqual(job['started'], 1, 'started at the transaction start')
        self.assertGreaterEqual(job['done'] - job['started'], SLEEP)
        cancelled = self.dates(pending.id, since=began)
        self.assertEqual(cancelled['state'], 'cancelled')
        self.assertGreaterEqual(cancelled['done'], 1 + SLEEP + 0.5,
                                'cancelled at the transaction start')
