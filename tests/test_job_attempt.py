"""One job attempt, from its claim to its outcome (issue 14, items 6, 8, 10):
no moment where a claimed job's row is unlocked and its outcome unrecorded,
messages people can read, and outcomes that never undo a job's work."""
import json
import logging
import time

from odoo.modules.registry import Registry

from .common import running
from .test_worker import WorkerCase

ATTEMPT_LOGGER = 'odoo.addons.background_job.engine.attempt'


class SlowLogHandler(logging.Handler):
    """A log destination that blocks (a full pipe, a slow disk) on the
    records whose message contains ``text``."""

    def __init__(self, text, seconds):
        super().__init__()
        self.text, self.seconds = text, seconds

    def emit(self, record):
        if self.text in record.getMessage():
            time.sleep(self.seconds)


class TestNoUnlockedWindow(WorkerCase):

    def test_a_registry_load_never_lets_a_claimed_job_be_taken_for_a_dead_workers(self):
        # While the registry loads (first load, reload, module upgrade), Odoo
        # holds its registry lock: here the test holds it, longer than
        # dead_after. The job must not be claimed, then failed as WorkerDied.
        with running(self.db.runner(threads=1, dead_after=1)):
            with Registry._lock:
                with self.db.env() as env:
                    job_id = self.make_record(env).with_delay(max_retries=0).log_run(
                        'registry-load').id
                time.sleep(4)  # dead_after + reap_interval, twice over
            job = self.wait_state(job_id, {'done', 'failed'})
        self.assertEqual((job['state'], job['retry'], job['exc_type']), ('done', 0, None))
        self.assertEqual(self.db.log_count('registry-load'), 1)

    def test_a_failure_is_recorded_before_the_reaper_can_requeue_the_job(self):
        # The job works longer than dead_after, then fails for good; the
        # worker's log blocks while it reports the failure. The row must
        # stay locked until the failure is recorded.
        handler = SlowLogHandler('gave up slow-log', 3)
        logger = logging.getLogger(ATTEMPT_LOGGER)
        self.addCleanup(logger.setLevel, logger.level)
        logger.setLevel(logging.ERROR)  # as in production (tests mute it)
        logger.addHandler(handler)
        self.addCleanup(logger.removeHandler, handler)
        with self.db.env() as env:
            job_id = self.make_record(env).with_delay(max_retries=1).sleep_then_give_up(
                'slow-log', 1.5).id
        with running(self.db.runner(threads=1, dead_after=1)):
            job = self.wait_state(job_id, {'failed'}, timeout=90)
        self.assertEqual((job['exc_type'], job['retry']), ('FailedJobError', 0))
        self.assertIn('gave up slow-log', job['exc_message'])
        self.assertEqual(self.db.log_count('slow-log'), 0)  # its work rolled back

    def test_a_job_whose_row_changed_after_its_own_commit_stops_and_is_not_marked_done(self):
        with self.db.env() as env:
            job_id = self.make_record(env).cancel_self_then_commit.delay('lost-row').id
        with running(self.db.runner(threads=1)):
            self.wait_state(job_id, {'cancelled', 'done'}, timeout=30)
        job = self.job(job_id)  # the runner stopped once the attempt ended
        self.assertEqual(job['state'], 'cancelled')  # not overwritten as done
        self.assertEqual(self.db.log_count('lost-row'), 0)  # what came after commit() never ran


class TestOutcomes(WorkerCase):

    def test_odoo_exceptions_are_stored_notified_and_logged_with_their_message(self):
        with self.db.env() as env:
            job_id = self.make_record(env).raise_user_error.delay('Not allowed here').id
        with self.assertLogs(ATTEMPT_LOGGER, 'ERROR') as logs:
            with running(self.db.runner()):
                job = self.wait_state(job_id, {'failed'})
        self.assertEqual((job['exc_type'], job['exc_message']), ('UserError', 'Not allowed here'))
        self.assertIn('failed: Not allowed here', '\n'.join(logs.output))
        self.assertNotIn("('Not allowed here'", '\n'.join(logs.output))
        notified = [json.loads(row[0]) for row in self.db.query(
            "SELECT message FROM bus_bus WHERE channel LIKE %s", ('%failed%',))]
        self.assertIn('Not allowed here', [n['exc_message'] for n in notified if n['id'] == job_id])

    def test_a_recordset_argument_keeps_its_records_that_exist_and_fails_once_all_are_gone(self):
        with self.db.env() as env:
            kept, deleted, gone = (self.make_record(env, name) for name in ('kept', 'deleted', 'gone'))
            target = self.make_record(env)
            partly = target.log_names.delay('partly', kept | deleted).id
            wholly = target.log_names.delay('wholly', gone).id
            (deleted | gone).unlink()
        with running(self.db.runner()):
            partly, wholly = (self.wait_state(job_id, {'done', 'failed'}, timeout=60)
                              for job_id in (partly, wholly))
        self.assertEqual(partly['state'], 'done')
        self.assertEqual(json.loads(self.db.query(
            "SELECT info FROM background_job_test_log WHERE marker = 'partly'")[0][0]), ['kept'])
        self.assertEqual((wholly['state'], wholly['exc_type'], wholly['retry']),
                         ('failed', 'RecordsGoneError', 0))
        self.assertIn('argument', wholly['exc_message'])

    def test_a_result_with_a_nul_character_is_stored_and_the_work_is_kept(self):
        with self.db.env() as env:
            job_id = self.make_record(env).return_text.delay('nul', 'a\x00b').id
        with running(self.db.runner()):
            job = self.wait_state(job_id, {'done', 'failed'}, timeout=60)
        self.assertEqual((job['state'], job['retry']), ('done', 0))
        self.assertEqual(job['result'], 'a\\x00b')
        self.assertEqual(self.db.log_count('nul'), 1)  # ran once, committed
