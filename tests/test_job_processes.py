"""Job processes (``processes = N``) on real servers: N processes run the
jobs, HTTP never does; a killed job process is replaced and its jobs
recovered at once; limit_memory_soft recycles a process after a leaking
job, losing nothing; a job over limit_memory_hard or one that segfaults
kills only its own job process and fails after its retries."""
import os
import signal
import time

import pytest

from . import odoo_server
from .common import server_command, server_config, wait_for
from .test_metrics import health
from .test_server_engine import ServerCase, end, queue_worker

pytestmark = pytest.mark.server

MB = 1024 * 1024


class ProcessesCase(ServerCase):

    def delay(self, method, *args, **options):
        with self.db.env() as env:
            record = env['background.job.test.record'].create({'name': 'processes'})
            return getattr(record.with_delay(**options), method)(*args).id

    def server(self, name, *args, **job_options):
        job_options.setdefault('threads', 2)
        odoo_options = job_options.pop('odoo_options', None)
        config = server_config(name, odoo_options, **job_options)
        server = odoo_server.OdooServer(self.db.name, *args,
                                        command=server_command(config, self.db.name))
        server.start()
        self.addCleanup(server.stop)
        return server

    def pids_logged(self, prefix):
        return {int(row[0]) for row in self.db.query(
            'SELECT info FROM background_job_test_log WHERE marker LIKE %s', (prefix + '%',))}

    def live_job_processes(self):
        """pid -> worker id of the job processes serving the database now."""
        return dict(self.db.query('SELECT pid, id FROM queue_job_worker '
                                  'WHERE date_stopped IS NULL'))

    def job(self, job_id):
        return dict(zip(('state', 'retry', 'exc_type', 'exc_message'), self.db.query(
            'SELECT state, retry, exc_type, exc_message FROM queue_job WHERE id = %s',
            (job_id,))[0]))

    def states_of(self, job_ids):
        return dict(self.db.query('SELECT state, count(*) FROM queue_job WHERE id = ANY(%s) '
                                  'GROUP BY state', (list(job_ids),)))

    def wait_done(self, job_ids, timeout=120):
        wait_for(lambda: self.states_of(job_ids) == {'done': len(job_ids)}, timeout,
                 interval=0.2, message='%d jobs done' % len(job_ids))

    def assert_answers(self, server):
        status, _ = server.get('/web/login')
        self.assertEqual(status, 200, 'the HTTP server answers')


class TestJobProcesses(ProcessesCase):

    def test_threaded_server_with_2_processes_runs_jobs_in_both_never_in_http(self):
        server = self.server('two-processes', processes=2)
        jobs = [self.delay('processes_pid', 'two-%d' % n, 0.3) for n in range(40)]
        self.wait_done(jobs)
        pids = self.pids_logged('two-')
        self.assertEqual(len(pids), 2, 'two job processes ran them: %s' % pids)
        self.assertNotIn(server.pid, pids, 'the HTTP server runs no job')
        self.assertEqual(set(self.live_job_processes()), pids)
        self.assert_answers(server)

    def test_queue_worker_processes_option_and_prefork_server_run_n_job_processes(self):
        config = server_config('cli-processes', threads=2)
        worker = queue_worker(config, self.db.name, args=('--processes', '2'))
        self.addCleanup(end, worker)
        jobs = [self.delay('processes_pid', 'cli-%d' % n, 0.3) for n in range(40)]
        self.wait_done(jobs)
        pids = self.pids_logged('cli-')
        self.assertEqual(len(pids), 2, '--processes 2: two job processes ran them')
        self.assertNotIn(worker.pid, pids, 'the supervisor runs no job')
        status, output = health(config, self.db.name, '--pid', str(worker.pid))
        self.assertEqual(status, 0, 'healthy through its job processes: ' + output)
        end(worker)
        prefork = self.server('prefork-processes', '--workers=2', processes=2)
        jobs = [self.delay('processes_pid', 'prefork-%d' % n, 0.3) for n in range(40)]
        self.wait_done(jobs)
        pids = self.pids_logged('prefork-')
        self.assertEqual(len(pids), 2, 'prefork with processes = 2: two job processes')
        self.assertNotIn(prefork.pid, pids)

    def test_a_killed_job_process_is_replaced_and_its_jobs_recovered_within_10_s(self):
        self.server('kill-process', processes=2)
        warmup = [self.delay('processes_pid', 'warm-%d' % n) for n in range(8)]
        self.wait_done(warmup)
        jobs = [self.delay('processes_pid', 'kill-%d' % n, 4) for n in range(4)]
        wait_for(lambda: self.states_of(jobs).get('started') == 4, 60, interval=0.05,
                 message='4 jobs running')
        victim, victim_worker = self.db.query(
            "SELECT worker.pid, worker.id FROM queue_job job JOIN queue_job_worker worker "
            "ON worker.id = job.worker_id WHERE job.id = ANY(%s) LIMIT 1", (jobs,))[0]
        interrupted = [row[0] for row in self.db.query(
            "SELECT id FROM queue_job WHERE id = ANY(%s) AND worker_id = %s",
            (jobs, victim_worker))]
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        wait_for(lambda: len(self.live_job_processes()) == 2
                 and victim not in self.live_job_processes(), 10, interval=0.05,
                 message='a new job process in place of the killed one')
        replaced = time.monotonic() - killed
        wait_for(lambda: self.db.query(
            "SELECT count(*) = 0 FROM queue_job WHERE id = ANY(%s) AND state = 'started' "
            "AND worker_id = %s", (interrupted, victim_worker))[0][0], 10, interval=0.05,
            message='the killed process\'s jobs requeued')
        recovered = time.monotonic() - killed
        requeued = {job_id: self.job(job_id) for job_id in interrupted}
        self.assertLess(recovered, 10, 'replaced and recovered within 10 s of the kill')
        print('\n[processes] killed job process replaced after %.1f s, its %d jobs requeued '
              'after %.1f s' % (replaced, len(interrupted), recovered))
        self.wait_done(jobs)
        self.assertEqual(set(self.markers_logged('kill').values()), {1}, 'each job once')
        for job_id, job in requeued.items():
            self.assertEqual((job['retry'], job['exc_type']), (1, 'WorkerDied'))
            self.assertIn('its job process was killed by signal 9 (SIGKILL)',
                          job['exc_message'])
        self.assertEqual({self.job(job_id)['retry'] for job_id in interrupted}, {1})

    def test_soft_limit_recycles_the_process_after_a_leaking_job_losing_nothing(self):
        server = self.server('soft-limit', processes=1,
                             odoo_options={'limit_memory_soft': 450 * MB,
                                           'limit_memory_hard': 4096 * MB})
        before = [self.delay('processes_pid', 'soft-before-%d' % n, 0.05) for n in range(20)]
        self.wait_done(before)
        first_pid, = self.pids_logged('soft-before-')
        leak = self.delay('processes_leak', 'soft-leak', 500)
        after = [self.delay('processes_pid', 'soft-after-%d' % n, 0.2) for n in range(20)]
        self.wait_done(before + [leak] + after)
        self.assertEqual(self.pids_logged('soft-leak'), {first_pid}, 'the leaking job committed')
        later = self.pids_logged('soft-after-') - {first_pid}
        self.assertTrue(later, 'a new job process ran the jobs after the leak')
        self.assertNotIn(first_pid, self.live_job_processes(), 'the leaking process is gone')
        self.assertEqual(set(self.markers_logged('soft').values()), {1}, 'each job once')
        self.assertEqual(self.db.query('SELECT max(retry) FROM queue_job WHERE id = ANY(%s)',
                                       (before + [leak] + after,))[0][0], 0, 'nothing retried')
        self.assertIn('over limit_memory_soft', server.log_text())

    def test_a_job_over_the_hard_limit_fails_after_its_retries_others_keep_running(self):
        server = self.server('hard-limit', processes=2,
                             odoo_options={'limit_memory_soft': 0,
                                           'limit_memory_hard': 700 * MB})
        blow = self.delay('processes_blow', 'hard-blow', 3000, 3, channel='root.blow')
        others = [self.delay('processes_pid', 'hard-other-%d' % n, 0.2) for n in range(30)]
        wait_for(lambda: self.job(blow)['state'] == 'failed', 120, interval=0.2,
                 message='the memory-blowing job failed for good')
        job = self.job(blow)
        self.assertEqual(job['retry'], 2, 'max_retries=2: three attempts')
        self.assertIn('its job process exceeded limit_memory_hard', job['exc_message'])
        self.assertFalse(self.pids_logged('hard-blow'), 'it never finished')
        self.wait_done(others)
        self.assertEqual(set(self.markers_logged('hard-other').values()), {1})
        self.assertEqual(server.log_text().count('exceeded limit_memory_hard'), 3 * 2,
                         'three kills, each logged by the pool and again at the exit')
        self.assert_answers(server)

    def test_a_segfaulting_job_leaves_the_http_server_up_and_fails_after_its_retries(self):
        server = self.server('segfault', processes=1)
        crash = self.delay('processes_segfault', 'segv')
        wait_for(lambda: self.job(crash)['state'] == 'failed', 120, interval=0.2,
                 message='the segfaulting job failed for good')
        self.assert_answers(server)
        self.assertTrue(server.running, 'the HTTP server lives on')
        job = self.job(crash)
        self.assertEqual(job['retry'], 1, 'max_retries=1: two attempts, two crashes')
        self.assertIn('its job process died of signal 11 (SIGSEGV)', job['exc_message'])
        after = self.delay('processes_pid', 'segv-after')
        self.wait_done([after])
        self.assertNotIn(server.pid, self.pids_logged('segv-after'))
