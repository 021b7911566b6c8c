"""Clean shutdown, in real Odoo server processes: on SIGTERM the threaded
server, the prefork server and ``odoo queue-worker`` stop claiming, give
running jobs ``shutdown_timeout`` seconds, then end the rest and requeue
them without counting a retry, and exit within shutdown_timeout + 5 s."""
import os
import signal
import time
import unittest

import pytest

from . import odoo_server
from .common import CommittedDatabase, server_command, server_config, wait_for
from .test_server_engine import end, queue_worker

pytestmark = pytest.mark.server

MODEL = 'background.job.test.record'
SHUTDOWN_TIMEOUT = 2
ENDED_AT_SHUTDOWN = 'still ran at shutdown: ended and requeued'


class ShutdownCase(unittest.TestCase):

    def setUp(self):
        self.db = CommittedDatabase()
        self.addCleanup(self.db.drop)

    def enqueue(self, durations, prefix):
        with self.db.env() as env:
            record = env[MODEL].create({'name': prefix})
            return [record.limits_effect.delay('%s-%d' % (prefix, n), seconds).id
                    for n, seconds in enumerate(durations)]

    def count(self, job_ids, state):
        return self.db.query('SELECT count(*) FROM queue_job WHERE id = ANY(%s) AND state = %s',
                             (job_ids, state))[0][0]

    def rows(self, job_ids):
        return self.db.query('SELECT state, retry, worker_id FROM queue_job '
                             'WHERE id = ANY(%s)', (job_ids,))

    def effects(self, prefix):
        """{marker: rows} of the jobs' effects."""
        return dict(self.db.query("SELECT marker, count(*) FROM background_job_test_log "
                                  "WHERE marker LIKE %s GROUP BY marker", (prefix + '-%',)))

    def check_requeued(self, job_ids, prefix, log):
        """After the exit: nothing started, the ended ones pending again
        with no retry counted and no effect committed."""
        rows = self.rows(job_ids)
        self.assertEqual({row[0] for row in rows} - {'done', 'pending'}, set(), rows)
        self.assertTrue(all(row[1] == 0 and row[2] is None for row in rows if row[0] == 'pending'),
                        'requeued without a retry, worker cleared')
        self.assertEqual(len(self.effects(prefix)), self.count(job_ids, 'done'),
                         'only the done jobs\' effects committed')
        ended = log.count(ENDED_AT_SHUTDOWN)
        self.assertGreater(ended, 0, 'some jobs were still running at the deadline')
        return ended


class TestShutdown(ShutdownCase):

    def test_sigterm_during_100_jobs_requeues_the_running_ones_and_each_runs_once(self):
        durations = [0.5 if n % 2 else 3 for n in range(100)]
        config = server_config('shutdown', threads=8, shutdown_timeout=SHUTDOWN_TIMEOUT)
        server = odoo_server.OdooServer(self.db.name, command=server_command(config, self.db.name))
        with server:
            jobs = self.enqueue(durations, 'sd')
            wait_for(lambda: self.count(jobs, 'done') >= 10 and self.count(jobs, 'started') == 8,
                     90, interval=0.05, message='10 done, 8 running')
            stopping = time.monotonic()
            code = server.stop(timeout=SHUTDOWN_TIMEOUT + 30)
            took = time.monotonic() - stopping
        print('threaded server exited %.1f s after SIGTERM (shutdown_timeout %s s)'
              % (took, SHUTDOWN_TIMEOUT))
        self.assertEqual(code, 0)
        self.assertLess(took, SHUTDOWN_TIMEOUT + 5)
        ended = self.check_requeued(jobs, 'sd', server.log_text())
        with server:
            wait_for(lambda: self.count(jobs, 'done') == 100, 120, interval=0.2,
                     message='all 100 done after the restart')
        effects = self.effects('sd')
        self.assertEqual(len(effects), 100)
        self.assertEqual(set(effects.values()), {1}, 'each effect exactly once')
        self.assertEqual(self.db.query('SELECT max(retry) FROM queue_job WHERE id = ANY(%s)',
                                       (jobs,))[0][0], 0, 'no retry counted')
        self.assertGreater(ended, 0)

    def test_queue_worker_and_prefork_job_process_requeue_at_shutdown(self):
        config = server_config('shutdown-processes', threads=4,
                               shutdown_timeout=SHUTDOWN_TIMEOUT)
        for kind in ('queue-worker', 'prefork'):
            with self.subTest(kind):
                jobs = self.enqueue([30] * 6, kind)
                if kind == 'queue-worker':
                    process = queue_worker(config, self.db.name, log_name=kind)
                    self.addCleanup(end, process)
                    pid, log = process.pid, os.path.join(odoo_server.test_output_dir(),
                                                        kind + '.log')
                else:
                    server = odoo_server.OdooServer(
                        self.db.name, '--workers=2', log_name=kind,
                        command=server_command(config, self.db.name)).start()
                    self.addCleanup(server.stop)
                    pid, log = server.pid, server.logfile
                wait_for(lambda: self.count(jobs, 'started') == 4, 90, interval=0.05,
                         message='4 running')
                job_process = self.db.query(
                    'SELECT DISTINCT worker.pid FROM queue_job job JOIN queue_job_worker worker '
                    'ON worker.id = job.worker_id WHERE job.id = ANY(%s)', (jobs,))[0][0]
                stopping = time.monotonic()
                os.kill(pid, signal.SIGTERM)
                for exiting in (job_process, pid):  # the server's arbiter waits for it
                    wait_for(lambda: _gone(exiting), SHUTDOWN_TIMEOUT + 30, interval=0.05,
                             message='process %s exited' % exiting)
                took = time.monotonic() - stopping
                print('%s: exited %.1f s after SIGTERM' % (kind, took))
                self.assertLess(took, SHUTDOWN_TIMEOUT + 5)
                with open(log) as handle:
                    ended = self.check_requeued(jobs, kind, handle.read())
                self.assertEqual((ended, self.count(jobs, 'pending')), (4, 6))
                self.db.query("UPDATE queue_job SET state = 'cancelled' WHERE id = ANY(%s)",
                              (jobs,))  # not for the next kind of process


def _gone(pid):
    """The process exited (a child not reaped yet counts as gone)."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().split(') ')[1].startswith('Z')
    except (FileNotFoundError, IndexError):
        return True
