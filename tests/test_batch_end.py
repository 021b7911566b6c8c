"""Every way a batch's done job ends ends its batch (and the batches around
it), with real commits and workers in this process; deleting a batch never
waits on a running job; the finish cron's handled conflict logs no error."""
import json
import logging
import time

from odoo import SUPERUSER_ID
from odoo.exceptions import UserError

from .common import BatchHelpers, CommittedDatabaseCase, running, wait_for

MODEL = BatchHelpers.MODEL
STRICT = MODEL + '.batch_done_strict'  # fails for good while its record's value < 0


class BatchEndCase(BatchHelpers, CommittedDatabaseCase):

    def flagged_record(self):
        """A record whose negative value makes batch_done_strict fail."""
        return self.db.query("INSERT INTO background_job_test_record (name, value) "
                             "VALUES ('flag', -1) RETURNING id")[0][0]

    def set_value(self, record_id, value):
        self.db.query('UPDATE background_job_test_record SET value = %s WHERE id = %s',
                      (value, record_id))

    def with_pending_done_job(self, marker, uid=SUPERUSER_ID):
        """A batch whose jobs were closed without a worker, after the cron
        enqueued its done method (no worker runs it): (batch, done job)."""
        batch_id = self.start_batch(self.make_records(2), marker, uid=uid, job_size=1)
        self.db.query("UPDATE queue_job SET state = 'done' WHERE parent_id = %s", (batch_id,))
        with self.db.env() as env:
            env['queue.job']._cron_finish_batches()
        done_job = self.batch(batch_id)['done_job']
        self.assertEqual(self.db.query('SELECT state FROM queue_job WHERE id = %s',
                                       (done_job,))[0][0], 'pending')
        return batch_id, done_job

    def job_state(self, job_id):
        return self.db.query('SELECT state FROM queue_job WHERE id = %s', (job_id,))[0][0]


class TestDoneJobEndsItsBatch(BatchEndCase):

    def test_a_done_method_failed_for_good_ends_the_batch_and_requeue_runs_it_once_more(self):
        flag = self.flagged_record()
        batch_id = self.start_batch(self.make_records(2), 'strict', job_size=1,
                                    done_method=STRICT, job_res_id=flag)
        with running(self.db.runner()):
            batch = self.wait_batch_state(batch_id, {'failed'}, timeout=60)
            self.assertEqual((batch['batch_state'], batch['done_job_state']),
                             ('done_with_failures', 'failed'))
            self.assertEqual(self.done_calls(batch_id), [])
            self.set_value(flag, 0)
            with self.db.env() as env:
                env['queue.job'].browse(batch_id).requeue_batch()
            batch = self.wait_batch_state(batch_id, {'done'})
        self.assertEqual(len(self.done_calls(batch_id)), 1)
        self.assertEqual(batch['batch_state'], 'done')
        self.assertEqual(sorted(state for _, state, _ in self.done_jobs(batch_id)),
                         ['done', 'failed'])
        self.assertEqual(self.db.log_count('strict'), 2, 'the jobs did not run again')

    def test_a_nested_batch_whose_done_method_failed_lets_the_outer_batch_finish(self):
        outer = self.start_batch(self.make_records(1), 'outer', job_size=1)
        (outer_job,) = self.db.query('SELECT id FROM queue_job WHERE parent_id = %s', (outer,))[0]
        flag = self.flagged_record()
        with self.db.env(context={'background_job_id': outer_job}) as env:  # as from that job
            inner = env['queue.job'].batch_execute_job(
                MODEL, 'batch_chunk', self.make_records(2), done_method=STRICT,
                job_res_id=flag, job_size=1, args=('inner',)).id
        self.assertEqual(self.db.query('SELECT parent_id FROM queue_job WHERE id = %s',
                                       (inner,))[0][0], outer)
        with running(self.db.runner()):
            batch = self.wait_batch_state(outer, {'done'}, timeout=60)
        self.assertEqual(self.batch(inner)['batch_state'], 'done_with_failures')
        (call,) = self.done_calls(outer)
        # outer job done; inner batch and its done job failed
        self.assertEqual((call['done'], call['failed'], call['unfinished']), (1, 2, 0))
        self.assertEqual(batch['batch_state'], 'done_with_failures')

    def test_a_done_job_failed_by_the_reaper_ends_its_batch(self):
        batch_id, done_job = self.with_pending_done_job('reaped')
        # as if its worker died on its last attempt
        self.db.query("UPDATE queue_job SET state = 'started', worker_id = NULL, retry = max_retries, "
                      "date_started = now() AT TIME ZONE 'UTC' - interval '1 hour' WHERE id = %s",
                      (done_job,))
        with running(self.db.runner()):
            batch = self.wait_batch_state(batch_id, {'failed'}, timeout=60)
        self.assertEqual((batch['batch_state'], self.job_state(done_job)),
                         ('done_with_failures', 'failed'))

    def test_a_user_cancelling_their_pending_done_job_cancels_the_batch(self):
        with self.db.env() as env:
            uid = env['res.users'].create({'name': 'Done Job User', 'login': 'jq_done_user'}).id
        batch_id, done_job = self.with_pending_done_job('cancel-done', uid=uid)
        with self.db.env(uid) as env:
            env['queue.job'].browse(done_job).cancel()
        batch = self.batch(batch_id)
        self.assertEqual((batch['state'], batch['batch_state']), ('cancelled', 'cancelled'))
        self.assertEqual(self.done_calls(batch_id), [])

    def test_a_manager_setting_the_done_job_done_ends_the_batch_done(self):
        batch_id, done_job = self.with_pending_done_job('set-done')
        with self.db.env() as env:
            env['queue.job'].browse(done_job).set_done()
        batch = self.batch(batch_id)
        self.assertEqual((batch['state'], batch['batch_state']), ('done', 'done'))

    def test_a_failed_done_job_set_done_by_hand_ends_its_failed_batch_done(self):
        batch_id, done_job = self.with_pending_done_job('failed-then-set-done')
        self.db.query("UPDATE queue_job SET state = 'started', worker_id = NULL, retry = max_retries, "
                      "date_started = now() AT TIME ZONE 'UTC' - interval '1 hour' WHERE id = %s",
                      (done_job,))
        with running(self.db.runner()):
            self.wait_batch_state(batch_id, {'failed'}, timeout=60)
        with self.db.env() as env:
            env['queue.job'].browse(done_job).set_done()
        self.assertEqual(self.batch(batch_id)['batch_state'], 'done')

    def test_requeueing_a_failed_done_job_requeues_its_batch_and_runs_the_method_once(self):
        flag = self.flagged_record()
        batch_id = self.start_batch(self.make_records(1), 'requeue-done', job_size=1,
                                    done_method=STRICT, job_res_id=flag)
        with running(self.db.runner()):
            batch = self.wait_batch_state(batch_id, {'failed'}, timeout=60)
            self.set_value(flag, 0)
            with self.db.env() as env:
                env['queue.job'].browse(batch['done_job']).requeue()
            self.wait_batch_state(batch_id, {'done'})
        self.assertEqual(len(self.done_calls(batch_id)), 1)

    def test_running_a_failed_done_job_again_by_hand_runs_the_method_and_ends_the_batch(self):
        flag = self.flagged_record()
        batch_id = self.start_batch(self.make_records(1), 'run-now-done', job_size=1,
                                    done_method=STRICT, job_res_id=flag)
        with running(self.db.runner()):
            batch = self.wait_batch_state(batch_id, {'failed'}, timeout=60)
            self.set_value(flag, 0)
            with self.db.env() as env:
                env['queue.job'].browse(batch['done_job']).run_now()
            batch = self.wait_batch_state(batch_id, {'done'})
        self.assertEqual(len(self.done_calls(batch_id)), 1)
        self.assertEqual(batch['done_job_state'], 'done')


class TestDeleteAndCron(BatchEndCase):

    def test_deleting_a_batch_while_one_of_its_jobs_runs_is_refused_at_once(self):
        batch_id = self.start_batch(self.make_records(1), 'slow', job_size=1, seconds=8,
                                    done_method=None)
        with running(self.db.runner(threads=1)):
            wait_for(lambda: self.batch(batch_id)['running'], 30, message='the job running')
            with self.db.env() as env:
                env.cr.execute("SET LOCAL lock_timeout = '5s'")  # a regression fails, not hangs
                started = time.monotonic()
                with self.assertRaises(UserError):
                    env['queue.job'].browse(batch_id).unlink()
                self.assertLess(time.monotonic() - started, 3)
            self.wait_batch_state(batch_id, {'done'}, timeout=60)
        with self.db.env() as env:
            env['queue.job'].browse(batch_id).unlink()  # once it ran: gone with its jobs
        self.assertEqual(self.db.query('SELECT count(*) FROM queue_job WHERE id = %s '
                                       'OR parent_id = %s', (batch_id, batch_id))[0][0], 0)

    def test_the_cron_losing_a_race_logs_no_bad_query_error(self):
        batch_id = self.start_batch(self.make_records(2), 'cron-log', job_size=1)
        self.db.query("UPDATE queue_job SET state = 'done' WHERE parent_id = %s", (batch_id,))
        records = []
        handler = logging.Handler()
        handler.emit = records.append
        loggers = {logging.getLogger(name): logging.getLogger(name).level for name in
                   ('odoo.sql_db', 'odoo.addons.background_job.models.queue_job_batch')}
        for logger in loggers:
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
        try:
            errors = self.race_finish_crons()
        finally:
            for logger, level in loggers.items():
                logger.removeHandler(handler)
                logger.setLevel(level)
        self.assertEqual(errors, [])
        self.assertEqual(len(self.done_jobs(batch_id)), 1)
        messages = [(record.levelname, record.getMessage()) for record in records]
        self.assertIn(('INFO', 'batches finished concurrently; the next run checks again'),
                      messages, 'the race did not happen')
        self.assertEqual([m for m in messages if m[0] == 'ERROR'], [])
        self.assertFalse(json.dumps(messages).count('bad query'))
