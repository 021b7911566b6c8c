"""Workers running real jobs with real commits (in-process runner)."""
import json
import select

from odoo.addons.background_job.engine.store import NOTIFY_CHANNEL
from odoo.addons.background_job.service.server import connect

from .common import CommittedDatabaseCase, running, wait_for


class WorkerCase(CommittedDatabaseCase):

    def make_record(self, env, name='r'):
        return env['background.job.test.record'].create({'name': name})

    def job(self, job_id):
        rows = self.db.query("SELECT state, retry, exc_type, exc_message, exc_info, result, "
                             "date_started, date_done, worker_id FROM queue_job WHERE id = %s",
                             (job_id,))
        keys = 'state retry exc_type exc_message exc_info result date_started date_done worker_id'
        return dict(zip(keys.split(), rows[0]))

    def wait_state(self, job_id, states, timeout=60):
        return wait_for(lambda: self.job(job_id)['state'] in states and self.job(job_id),
                        timeout, message='job %s in %s' % (job_id, states))


class TestWorker(WorkerCase):

    def test_job_runs_once_commits_its_effects_and_is_done(self):
        with self.db.env() as env:
            job_id = self.make_record(env).log_run.delay('ran-once').id
        with running(self.db.runner()):
            job = self.wait_state(job_id, {'done'})
        self.assertEqual(job['result'], 'ran-once')
        self.assertEqual(self.db.log_count('ran-once'), 1)
        self.assertIsNotNone(job['date_started'])

    def test_job_enqueued_in_a_rolled_back_transaction_never_runs(self):
        with running(self.db.runner()):
            with self.db.env() as env:
                job_id = self.make_record(env).log_run.delay('rolled-back').id
                env.cr.rollback()
            with self.db.env() as env:
                marker_job = self.make_record(env).log_run.delay('after-rollback').id
            self.wait_state(marker_job, {'done'})
        self.assertEqual(self.db.query('SELECT count(*) FROM queue_job WHERE id = %s',
                                       (job_id,))[0][0], 0)
        self.assertEqual(self.db.log_count('rolled-back'), 0)

    def test_workers_do_not_see_a_job_before_its_transaction_commits(self):
        with running(self.db.runner()):
            with self.db.env() as env:
                job_id = self.make_record(env).log_run.delay('uncommitted').id
                env.cr.execute('SELECT pg_sleep(1)')
                self.assertEqual(self.db.log_count('uncommitted'), 0)
            self.wait_state(job_id, {'done'})

    def test_each_committed_transaction_that_enqueued_wakes_the_workers_once(self):
        listener = connect(self.db.name)
        listener.autocommit = True
        with listener.cursor() as cr:
            cr.execute('LISTEN %s' % NOTIFY_CHANNEL)

        def notifications():
            select.select([listener], [], [], 0.5)
            listener.poll()
            count = sum(1 for n in listener.notifies if n.channel == NOTIFY_CHANNEL)
            del listener.notifies[:]
            return count
        try:
            with self.db.env() as env:  # one cursor, so one session, throughout
                record = self.make_record(env)
                for _ in range(3):
                    record.noop.delay()
                env.cr.commit()
                self.assertEqual(notifications(), 1)
                record.noop.delay()  # the session's next transaction notifies too
                env.cr.commit()
                self.assertEqual(notifications(), 1)
                try:
                    with env.cr.savepoint():
                        record.noop.delay()
                        raise ValueError('undo the savepoint and its notification')
                except ValueError:
                    pass
                record.noop.delay()  # so this one must notify
            self.assertEqual(notifications(), 1)
        finally:
            listener.close()

    def test_failure_rolls_back_the_job_effects_and_retries_then_fails(self):
        with self.db.env() as env:
            job_id = self.make_record(env).log_then_fail.delay('boom').id
        with running(self.db.runner()):
            job = self.wait_state(job_id, {'failed'}, timeout=90)
        self.assertEqual(job['retry'], 2)  # max_retries=2: 1 run + 2 retries
        self.assertEqual(job['exc_type'], 'ValueError')
        self.assertEqual(job['exc_message'], 'boom boom')
        self.assertIn('Traceback', job['exc_info'])
        self.assertIn('log_then_fail', job['exc_info'])
        self.assertEqual(self.db.log_count('boom'), 0)  # every attempt rolled back

    def test_failed_job_error_fails_at_once(self):
        with self.db.env() as env:
            job_id = self.make_record(env).fail_hard.delay('hard').id
        with running(self.db.runner()):
            job = self.wait_state(job_id, {'failed'})
        self.assertEqual((job['retry'], job['exc_type']), (0, 'FailedJobError'))

    def test_retryable_job_error_retries_after_the_requested_delay(self):
        with self.db.env() as env:
            job_id = self.make_record(env).ask_retry.delay('later', seconds=1).id
        with running(self.db.runner()):
            job = self.wait_state(job_id, {'failed'}, timeout=60)
        self.assertEqual(job['retry'], 1)  # max_retries=1
        self.assertEqual(job['exc_type'], 'RetryableJobError')
        self.assertEqual(self.db.log_count('later'), 0)

    def test_a_row_naming_an_undecorated_method_runs_nothing(self):
        with self.db.env() as env:
            job_id = self.make_record(env).log_run.delay('forged').id
        self.db.query("UPDATE queue_job SET method_name = 'not_a_job', max_retries = 0 "
                      "WHERE id = %s", (job_id,))
        with running(self.db.runner()):
            job = self.wait_state(job_id, {'failed'})
        self.assertEqual(job['exc_type'], 'NotAJobError')
        self.assertIn('not_a_job is not a job', job['exc_message'])
        self.assertEqual(self.db.log_count('not_a_job ran'), 0)

    def test_job_on_deleted_records_fails_clearly_without_retrying(self):
        with self.db.env() as env:
            record = self.make_record(env)
            job_id = record.log_run.delay('gone').id
            record.unlink()
        with running(self.db.runner()):
            job = self.wait_state(job_id, {'failed'})
        self.assertEqual((job['exc_type'], job['retry']), ('RecordsGoneError', 0))
        self.assertIn('deleted before it ran', job['exc_message'])

    def test_job_runs_as_the_enqueuing_user_with_their_context(self):
        with self.db.env() as env:
            demo_user = env['res.users'].create({'name': 'Job User', 'login': 'jobuser'})
            env['res.lang'].load_lang('fr_FR')
            records = self.make_record(env).sudo(demo_user.id).with_context(
                lang='fr_FR', tz='Europe/Brussels', active_test=False)
            job_id = records.describe_env.delay('who').id
            expected = {'uid': demo_user.id, 'ids': records.ids,
                        'company': demo_user.company_id.id, 'lang': 'fr_FR',
                        'tz': 'Europe/Brussels', 'active_test': False, 'job_id': job_id}
        with running(self.db.runner()):
            self.wait_state(job_id, {'done'})
        info = json.loads(self.db.query(
            "SELECT info FROM background_job_test_log WHERE marker = 'who'")[0][0])
        self.assertEqual(info, expected)

    def test_time_limit_ends_a_long_statement(self):
        with self.db.env() as env:
            job = self.make_record(env).with_delay(max_retries=0).sleep_in_sql(30)
        with running(self.db.runner()):
            state = self.wait_state(job.id, {'failed'}, timeout=30)
        self.assertEqual(state['exc_type'], 'JobTimeoutError')
        self.assertEqual(state['exc_message'], 'ran longer than 1 s')
        self.assertIn('sleep_in_sql', state['exc_info'])


class TestOrphans(WorkerCase):

    def test_started_job_with_no_live_transaction_is_requeued_even_if_its_worker_lives(self):
        # a live worker (fresh heartbeat, process alive) that could not record
        # the job's outcome (database blip) left it started without a lock:
        # it must not stay started forever
        import os
        import socket
        with self.db.env() as env:
            job_id = self.make_record(env).log_run.delay('stranded').id
        live_worker = self.db.query(
            "INSERT INTO queue_job_worker (uuid, host, pid, threads, last_beat) "
            "VALUES ('live', %s, %s, 1, now() AT TIME ZONE 'UTC') RETURNING id",
            (socket.gethostname(), os.getpid()))[0][0]
        self.db.query("UPDATE queue_job SET state = 'started', worker_id = %s, "
                      "date_started = (now() AT TIME ZONE 'UTC') - interval '1 hour' "
                      "WHERE id = %s", (live_worker, job_id))
        with running(self.db.runner(threads=1, dead_after=600)):
            job = self.wait_state(job_id, {'done'}, timeout=60)
        self.assertEqual(job['retry'], 1)
        self.assertEqual(self.db.log_count('stranded'), 1)

    def test_running_job_is_never_requeued_however_long_it_runs(self):
        with self.db.env() as env:
            job_id = self.make_record(env).sleep_and_log.delay('long', 6).id
        with running(self.db.runner(threads=1, dead_after=1)):
            job = self.wait_state(job_id, {'done'}, timeout=60)
        self.assertEqual(job['retry'], 0)
        self.assertEqual(self.db.log_count('long'), 1)

    def test_a_job_that_commits_on_its_own_keeps_its_row_locked(self):
        with self.db.env() as env:
            job_id = self.make_record(env).commit_then_sleep.delay('self-commit', 5).id
        with running(self.db.runner(threads=2, dead_after=1)):
            wait_for(lambda: self.db.log_count('self-commit committed'), 30)
            self.assertEqual(self.job(job_id)['state'], 'started')
            job = self.wait_state(job_id, {'done'}, timeout=60)
        self.assertEqual(job['retry'], 0)  # never taken for an orphan
        self.assertEqual(self.db.log_count('self-commit committed'), 1)
        self.assertEqual(self.db.log_count('self-commit'), 1)


class TestClaim(WorkerCase):

    def test_fast_claim_never_takes_a_job_of_a_channel_with_a_capacity(self):
        from odoo.addons.background_job.engine import store
        from odoo.addons.background_job.service.server import connect
        self.db.query("INSERT INTO queue_job_channel (name, capacity) VALUES ('root.limited', 1)")
        self.addCleanup(self.db.query, "DELETE FROM queue_job_channel WHERE name = 'root.limited'")
        with self.db.env() as env:
            job_id = self.make_record(env).with_delay(channel='root.limited').noop().id
        self.addCleanup(self.db.query, 'DELETE FROM queue_job WHERE id = %s', (job_id,))
        connection = connect(self.db.name)
        connection.autocommit = True
        self.addCleanup(connection.close)
        worker_id = self.db.query("INSERT INTO queue_job_worker (uuid, host, pid, threads) "
                                  "VALUES ('claim-test', 'h', 0, 1) RETURNING id")[0][0]
        with connection.cursor() as cr:
            store.prepare_claim(cr)
            self.assertTrue(store.limited_channels_exist(cr))
            self.assertIsNone(store.claim_unlimited(cr, worker_id))
            self.assertEqual(store.claim(cr, worker_id).id, job_id)
            self.db.query("UPDATE queue_job SET state = 'pending' WHERE id = %s", (job_id,))
            self.db.query("UPDATE queue_job_channel SET capacity = 0 WHERE name = 'root.limited'")
            self.assertEqual(store.claim_unlimited(cr, worker_id).id, job_id)
