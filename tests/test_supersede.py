"""The supersede rule: a job going back to pending while another job holds
its identity_key ends instead (cancelled, "superseded by job N"), and no
such conflict stops the reaper, a job thread or an admin action."""
import logging
import os
import socket
import threading
import time

from odoo.addons.background_job.engine import store
from odoo.addons.background_job.engine.worker import transaction
from odoo.addons.background_job.service.server import connect

from .common import running
from .test_worker import WorkerCase


class LogCatcher(logging.Handler):
    """Collects the records of the engine's loggers at WARNING and above."""

    def __init__(self, case):
        super().__init__(logging.WARNING)
        self.records = []
        self.logger = logging.getLogger('odoo.addons.background_job')
        self.logger.addHandler(self)
        case.addCleanup(self.logger.removeHandler, self)

    def emit(self, record):
        self.records.append(record)

    def crashes(self):
        return [r.getMessage() for r in self.records if 'crashed' in r.getMessage()
                or 'lost its database connection' in r.getMessage()]


class TestSupersede(WorkerCase):

    def delay(self, method, *args, **options):
        with self.db.env() as env:
            record = self.make_record(env)
            return getattr(record.with_delay(**options), method)(*args).id

    def dead_worker(self):
        return self.db.query(
            "INSERT INTO queue_job_worker (uuid, host, pid, threads, last_beat) "
            "VALUES ('dead', 'gone-host', 1, 1, now() AT TIME ZONE 'UTC' - interval '1 hour') "
            "RETURNING id")[0][0]

    def make_orphan(self, job_id, worker_id):
        self.db.query("UPDATE queue_job SET state = 'started', worker_id = %s, "
                      "date_started = (now() AT TIME ZONE 'UTC') - interval '1 hour' "
                      "WHERE id = %s", (worker_id, job_id))

    def test_a_retried_job_whose_key_was_taken_meanwhile_is_superseded(self):
        logs = LogCatcher(self)
        dead = self.dead_worker()
        with running(self.db.runner(threads=2, dead_after=2)) as runner:
            job_a = self.delay('sleep_then_fail', 'a', 2, identity_key='key-A')
            self.wait_state(job_a, {'started'})
            job_b = self.delay('log_run', 'b', identity_key='key-A', eta=3600)
            self.assertNotEqual(job_a, job_b)
            a = self.wait_state(job_a, {'cancelled', 'pending'}, timeout=30)
            self.assertEqual((a['state'], a['exc_message']),
                             ('cancelled', 'superseded by job %d' % job_b))
            self.assertEqual(a['exc_type'], 'ValueError')  # what happened stays
            self.assertEqual(self.job(job_b)['state'], 'pending')
            # the reaper still requeues the other orphans, the threads still run jobs
            orphan = self.delay('log_run', 'orphan')
            self.make_orphan(orphan, dead)
            self.wait_state(orphan, {'done'}, timeout=30)
            self.wait_state(self.delay('log_run', 'after'), {'done'}, timeout=30)
            self.assertTrue(all(thread.is_alive() for thread in runner.threads))
        self.assertEqual(logs.crashes(), [])

    def test_reaper_supersedes_orphans_whose_key_is_taken_and_requeues_the_rest(self):
        logs = LogCatcher(self)
        dead = self.dead_worker()
        holder = self.delay('log_run', 'holder', identity_key='key-R', eta=3600)
        orphans = {}
        for name in ('taken', 'twin-1', 'twin-2', 'plain'):
            orphans[name] = self.delay('log_run', name)
            self.make_orphan(orphans[name], dead)
        self.db.query("UPDATE queue_job SET identity_key = 'key-R' WHERE id = %s",
                      (orphans['taken'],))
        self.db.query("UPDATE queue_job SET identity_key = 'key-T' WHERE id = ANY(%s)",
                      ([orphans['twin-1'], orphans['twin-2']],))
        with running(self.db.runner(threads=0)):  # the reaper alone
            self.wait_state(orphans['plain'], {'pending'}, timeout=30)
            self.wait_state(orphans['twin-1'], {'pending'}, timeout=30)
            taken = self.wait_state(orphans['taken'], {'cancelled'}, timeout=30)
            twin = self.wait_state(orphans['twin-2'], {'cancelled'}, timeout=30)
        self.assertEqual(taken['exc_message'], 'superseded by job %d' % holder)
        self.assertEqual(twin['exc_message'], 'superseded by job %d' % orphans['twin-1'])
        self.assertEqual(self.job(holder)['state'], 'pending')
        self.assertEqual(logs.crashes(), [])

    def test_release_of_a_job_whose_key_was_taken_supersedes_it(self):
        worker = self.db.query("INSERT INTO queue_job_worker (uuid, host, pid, threads, "
                               "last_beat) VALUES ('rel', %s, %s, 1, now()) RETURNING id",
                               (socket.gethostname(), os.getpid()))[0][0]
        job_a = self.delay('log_run', 'released', identity_key='key-L')
        self.db.query("UPDATE queue_job SET state = 'started', worker_id = %s WHERE id = %s",
                      (worker, job_a))
        job_b = self.delay('log_run', 'holder', identity_key='key-L', eta=3600)
        connection = connect(self.db.name)
        connection.autocommit = True
        self.addCleanup(connection.close)
        with transaction(connection) as cr:
            store.release(cr, job_a, worker)
        a = self.job(job_a)
        self.assertEqual((a['state'], a['exc_message'], a['worker_id']),
                         ('cancelled', 'superseded by job %d' % job_b, None))

    def test_admin_requeue_supersedes_jobs_whose_key_is_taken(self):
        holder = self.delay('log_run', 'holder', identity_key='key-Q', eta=3600)
        taken = self.delay('log_run', 'taken')
        twins = [self.delay('log_run', 'twin') for _ in range(2)]
        plain = self.delay('log_run', 'plain')
        self.db.query("UPDATE queue_job SET state = 'failed', identity_key = CASE "
                      "WHEN id = %s THEN 'key-Q' WHEN id = ANY(%s) THEN 'key-W' END "
                      "WHERE id = ANY(%s)", (taken, twins, [taken, plain] + twins))
        with self.db.env() as env:
            env['queue.job'].browse([taken, plain] + twins).requeue()
        self.assertEqual((self.job(taken)['state'], self.job(taken)['exc_message']),
                         ('cancelled', 'superseded by job %d' % holder))
        self.assertEqual(self.job(plain)['state'], 'pending')
        self.assertEqual(self.job(twins[0])['state'], 'pending')
        self.assertEqual((self.job(twins[1])['state'], self.job(twins[1])['exc_message']),
                         ('cancelled', 'superseded by job %d' % twins[0]))

    def test_a_requeue_racing_an_uncommitted_delay_of_its_key_supersedes_instead_of_failing(self):
        worker = self.db.query("INSERT INTO queue_job_worker (uuid, host, pid, threads, "
                               "last_beat) VALUES ('race', %s, %s, 1, now()) RETURNING id",
                               (socket.gethostname(), os.getpid()))[0][0]
        job_a = self.delay('log_run', 'released', identity_key='key-X')
        self.db.query("UPDATE queue_job SET state = 'started', worker_id = %s WHERE id = %s",
                      (worker, job_a))
        delayed, release_waits, outcome = threading.Event(), threading.Event(), {}

        def delay_b():  # its transaction stays open until the release waits on it
            with self.db.env() as env:
                outcome['b'] = self.make_record(env).with_delay(
                    identity_key='key-X', eta=3600).log_run('holder').id
                delayed.set()
                release_waits.wait(30)
                time.sleep(0.5)
        thread = threading.Thread(target=delay_b)
        thread.start()
        self.addCleanup(thread.join, 30)
        self.assertTrue(delayed.wait(30))
        connection = connect(self.db.name)
        connection.autocommit = True
        self.addCleanup(connection.close)
        release_waits.set()
        with transaction(connection) as cr:  # waits for delay_b's commit, then retries
            store.release(cr, job_a, worker)
        thread.join(30)
        a = self.job(job_a)
        self.assertEqual((a['state'], a['exc_message']),
                         ('cancelled', 'superseded by job %d' % outcome['b']))
