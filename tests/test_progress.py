"""Progress of running jobs: set_progress() is checked, throttled and kept
outside the job's transaction; a batch counts its running jobs' progress."""
import doctest
import time

from odoo.tests.common import TransactionCase

from odoo.addons.background_job.engine import progress, store
from odoo.addons.background_job.testing import trap_jobs

from .common import CommittedDatabaseCase, running, wait_for

MODEL = 'background.job.test.record'


def test_the_examples_of_engine_progress_hold():
    assert doctest.testmod(progress).failed == 0


def test_bad_values_are_refused_with_a_message_that_says_what_is_wrong():
    for args, message in [((-1,), 'done must be a finite number >= 0, not -1'),
                          ((1, -5), 'total must be a finite number >= 0, not -5'),
                          ((11, 10), 'done (11) is more than total (10)'),
                          (('3',), "done must be a number, not '3'"),
                          ((True,), 'done must be a number, not True'),
                          ((float('nan'), 10), 'done must be a finite number >= 0')]:
        try:
            progress.checked(*args)
        except ValueError as error:
            assert message in str(error), (args, error)
        else:
            raise AssertionError('%r was accepted' % (args,))


def test_a_long_message_is_cut_and_a_nul_character_stored_escaped():
    value = progress.checked(1, 2, 'x\x00' + 'y' * 1000)
    assert len(value.message) == 500 and value.message.startswith('x\\x00y')
    assert value.message.endswith('...')


def test_100000_reports_in_two_seconds_make_four_writes():
    clock, writes = [0.0], []
    reporter = progress.Reporter(1, lambda job_id, value: writes.append(value.done), 0.5,
                                 clock=lambda: clock[0])
    for step in range(100000):
        clock[0] = step * 2.0 / 100000
        reporter.report(step + 1, 100000)
    reporter.flush()
    assert len(writes) == 3 + 1  # at 0.5, 1.0, 1.5 s, and the last value at the end
    assert writes[-1] == 100000
    reporter.flush()
    assert len(writes) == 4, 'nothing new: no write'


def test_a_failing_write_is_logged_once_and_never_fails_the_job():
    calls = []

    def broken(job_id, value):
        calls.append(value)
        raise OSError('connection lost')

    clock = [0.0]
    reporter = progress.Reporter(1, broken, 0.5, clock=lambda: clock[0])
    for step in range(10):
        clock[0] = step
        reporter.report(step)
    reporter.flush()
    assert len(calls) == 1


def test_reports_reach_only_the_job_whose_attempt_runs_on_this_thread():
    writes = []
    with progress.reporting(7, lambda job_id, value: writes.append((job_id, value.done))):
        assert progress.report(7, 1, 2)
        assert not progress.report(8, 1, 2), 'another job id: not this attempt'
        with progress.reporting(9, lambda job_id, value: writes.append((job_id, value.done))):
            assert progress.report(9, 3)
        assert progress.report(7, 2, 2)
    assert writes == [(9, 3), (7, 2)]
    assert not progress.report(7, 1), 'the attempt is over'


class TestProgressFields(TransactionCase):
    """The fields, set_progress() outside and inside a job run now."""

    def setUp(self):
        super().setUp()
        self.record = self.env[MODEL].create({'name': 'progress'})

    def test_outside_a_job_set_progress_does_nothing_but_still_checks(self):
        self.env['queue.job'].set_progress(5, 10, 'ignored')
        self.env['queue.job'].with_context(background_job_id=1).set_progress(5, 10)
        with self.assertRaisesRegex(ValueError, r'done \(12\) is more than total \(10\)'):
            self.env['queue.job'].set_progress(12, 10)

    def test_a_job_run_now_keeps_its_last_progress_and_shows_100_when_done(self):
        with trap_jobs(self.env) as trap:
            job = self.record.progress_steps.delay('now', 4, 0)
        trap.perform()
        job.invalidate_cache()
        self.assertEqual((job.state, job.progress, job.progress_done, job.progress_total,
                          job.progress_message), ('done', 100.0, 4.0, 4.0, 'now: all 4 steps'))
        self.assertTrue(job.progress_date)

    def test_a_failed_job_shows_where_it_was_and_a_retry_starts_from_nothing(self):
        with trap_jobs(self.env) as trap:
            job = self.record.progress_steps.delay('fails', 3, 0, fail=True)
        with self.assertRaises(ValueError):
            trap.perform()
        job.invalidate_cache()
        self.assertEqual((job.state, job.progress_done, job.progress_total), ('pending', 3.0, 3.0))
        self.assertEqual(job.progress, 100.0, '3 of 3 steps reported before it failed')
        # its next attempt starts: a new date_started, no progress of its own yet
        self.env.cr.execute("UPDATE queue_job SET state = 'started', date_started = "
                            "date_started + interval '1 second' WHERE id = %s", (job.id,))
        job.invalidate_cache()
        self.assertEqual((job.progress, job.progress_done, job.progress_message),
                         (0.0, 0.0, False))

    def test_a_batch_counts_its_running_jobs_by_their_progress(self):
        records = self.record | self.env[MODEL].create({'name': 'b'}) \
            | self.env[MODEL].create({'name': 'c'}) | self.env[MODEL].create({'name': 'd'})
        batch = records.batch_chunk.delay_batch('m', job_size=1)
        first, second, third, _fourth = batch.child_ids.sorted('id')
        self.env.cr.execute("UPDATE queue_job SET state = 'done' WHERE id = %s", (first.id,))
        self.env.cr.execute("UPDATE queue_job SET state = 'started', date_started = now() "
                            "WHERE id IN %s", ((second.id, third.id),))
        store.write_progress(self.env.cr, second.id, progress.checked(1, 2))
        store.write_progress(self.env.cr, third.id, progress.checked(7))  # no total: no share
        batch.invalidate_cache()
        self.assertEqual((batch.batch_progress, batch.progress), (37.5, 37.5))
        self.assertEqual(store.running_children_progress(self.env.cr, batch.ids),
                         {batch.id: 0.5})


class TestProgressInAWorker(CommittedDatabaseCase):
    """A worker's attempt writes progress on its thread's other connection."""

    def written(self, job_id):
        rows = self.db.query('SELECT done, total, message FROM queue_job_progress '
                             'WHERE job_id = %s', (job_id,))
        return rows[0] if rows else None

    def test_100000_reports_make_a_handful_of_writes(self):
        self.db.query("""
            CREATE TABLE progress_write_count (n integer);
            CREATE FUNCTION progress_count_write() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO progress_write_count VALUES (1); RETURN NULL; END $$;
            CREATE TRIGGER progress_count_write AFTER INSERT OR UPDATE ON queue_job_progress
            FOR EACH ROW EXECUTE PROCEDURE progress_count_write()""")
        with self.db.env() as env:
            job_id = env[MODEL].create({'name': 'loop'}).progress_loop.delay(100000).id
        started = time.monotonic()
        with running(self.db.runner(threads=1)):
            wait_for(lambda: self.db.query('SELECT state FROM queue_job WHERE id = %s',
                                           (job_id,))[0][0] == 'done', 120, message='loop done')
        seconds = time.monotonic() - started
        writes = self.db.query('SELECT count(*) FROM progress_write_count')[0][0]
        self.assertEqual(self.written(job_id), (100000.0, 100000.0, None))
        self.assertGreaterEqual(writes, 1)
        self.assertLessEqual(writes, 2 * seconds + 2, 'at most one write per 0.5 s, and the last')

    def test_the_progress_of_a_job_that_fails_survives_its_rollback(self):
        with self.db.env() as env:
            job_id = env[MODEL].create({'name': 'fail'}).progress_steps.delay(
                'rolled-back', 2, 0.3, fail=True).id
        with running(self.db.runner(threads=1, )):
            wait_for(lambda: self.db.query('SELECT retry FROM queue_job WHERE id = %s',
                                           (job_id,))[0][0] >= 1, 60, message='first attempt failed')
        self.assertEqual(self.db.log_count('rolled-back'), 0, 'the job was rolled back')
        self.assertEqual(self.written(job_id), (2.0, 2.0, 'rolled-back: all 2 steps'))
