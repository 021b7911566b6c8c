"""Worker rows and the worker loop's restarts: old rows are purged, the
reaper only checks the workers that matter, and a loop that ran fine for a
while restarts quickly after a lost connection."""
import socket
import time

from odoo.addons.background_job.engine import store
from odoo.addons.background_job.service.server import connect

from .common import running
from .test_worker import WorkerCase


def missing_pid():
    """A pid that no process of this machine has."""
    from odoo.addons.background_job.engine.worker import process_exists
    pid = 4000000
    while process_exists(pid):
        pid -= 1
    return pid


class TestWorkerRows(WorkerCase):

    def add_worker(self, host='elsewhere', pid=1, age_days=0, stopped=True):
        return self.db.query(
            "INSERT INTO queue_job_worker (uuid, host, pid, threads, date_started, last_beat, "
            "date_stopped) SELECT 'w', %(host)s, %(pid)s, 1, at, at, CASE WHEN %(stopped)s "
            "THEN at END FROM (SELECT (now() AT TIME ZONE 'UTC') - make_interval("
            "days => %(days)s) AS at) t RETURNING id",
            {'host': host, 'pid': pid, 'days': age_days, 'stopped': stopped})[0][0]

    def test_purge_cron_removes_old_worker_rows_no_job_refers_to(self):
        old_stopped = self.add_worker(age_days=30)
        old_dead = self.add_worker(age_days=30, stopped=False)
        old_with_failed_job = self.add_worker(age_days=30)
        recent = self.add_worker(age_days=1)
        live = self.add_worker(stopped=False)
        with self.db.env() as env:
            job_id = self.make_record(env).log_run.delay('failed long ago').id
        self.db.query("UPDATE queue_job SET state = 'failed', worker_id = %s WHERE id = %s",
                      (old_with_failed_job, job_id))
        with self.db.env() as env:
            self.assertTrue(env.ref('background_job.ir_cron_purge_workers').active)
            env['queue.job.worker']._cron_purge()
        left = {row[0] for row in self.db.query('SELECT id FROM queue_job_worker')}
        self.assertEqual(left & {old_stopped, old_dead, old_with_failed_job, recent, live},
                         {old_with_failed_job, recent, live})

    def test_reaper_checks_only_local_workers_that_have_started_jobs(self):
        host, gone = socket.gethostname(), missing_pid()
        self.db.query(
            "INSERT INTO queue_job_worker (uuid, host, pid, threads, last_beat, date_stopped) "
            "SELECT 'old', %s, %s, 1, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC' "
            "FROM generate_series(1, 5000)", (host, gone))
        crashed = self.add_worker(host=host, pid=gone, stopped=False)  # fresh heartbeat
        with self.db.env() as env:
            job_id = self.make_record(env).log_run.delay('crashed here').id
        self.db.query("UPDATE queue_job SET state = 'started', worker_id = %s, "
                      "date_started = now() AT TIME ZONE 'UTC' WHERE id = %s", (crashed, job_id))
        connection = connect(self.db.name)
        self.addCleanup(connection.close)
        with connection, connection.cursor() as cr:
            self.assertEqual(store.local_workers(cr, host, 0), [(crashed, gone)])
        with running(self.db.runner(threads=1, dead_after=600)):
            job = self.wait_state(job_id, {'done'}, timeout=30)  # without dead_after
        self.assertEqual(job['retry'], 1)

    def test_a_loop_that_ran_fine_for_a_while_restarts_without_a_long_backoff(self):
        killer = connect(self.db.name)
        killer.autocommit = True
        self.addCleanup(killer.close)
        with running(self.db.runner(threads=1, backoff_reset=1)):
            with self.db.env() as env:
                first = self.make_record(env).log_run.delay('first').id
            self.wait_state(first, {'done'})
            for attempt in range(5):
                with killer.cursor() as cr:
                    cr.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE datname = %s AND application_name = 'background_job' "
                               "AND pid <> pg_backend_pid()", (self.db.name,))
                    self.assertGreater(cr.fetchone()[0], 0)
                started = time.monotonic()
                with self.db.env() as env:
                    job_id = self.make_record(env).log_run.delay('after kill').id
                self.wait_state(job_id, {'done'}, timeout=60)
                self.assertLess(time.monotonic() - started, 5,
                                'restart %d waited too long' % (attempt + 1))
                time.sleep(1.5)  # ran fine for longer than backoff_reset
