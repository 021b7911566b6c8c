"""identity_key under a real race: two transactions delay the same key."""
import threading
import unittest

import psycopg2

from .common import CommittedDatabase


class TestIdentityKeyRace(unittest.TestCase):

    def setUp(self):
        self.db = CommittedDatabase()
        self.addCleanup(self.db.drop)

    def test_concurrent_delays_with_one_key_make_one_job(self):
        first_delayed, outcome = threading.Event(), {}

        def first():
            with self.db.env() as env:
                record = env['background.job.test.record'].create({'name': 'a'})
                outcome['first'] = record.with_delay(identity_key='k-1').log_run('a').id
                first_delayed.set()
                env.cr.execute('SELECT pg_sleep(1)')  # commit while the second waits

        thread = threading.Thread(target=first)
        thread.start()
        self.assertTrue(first_delayed.wait(60))
        try:
            with self.db.env() as env:
                record = env['background.job.test.record'].create({'name': 'b'})
                outcome['second'] = record.with_delay(identity_key='k-1').log_run('b').id
        except psycopg2.extensions.TransactionRollbackError:
            # REPEATABLE READ cannot see the job committed meanwhile; Odoo
            # retries such a request, and the retry finds the job
            with self.db.env() as env:
                record = env['background.job.test.record'].create({'name': 'b'})
                outcome['second'] = record.with_delay(identity_key='k-1').log_run('b').id
        thread.join(60)
        self.assertEqual(outcome['first'], outcome['second'])
        self.assertEqual(self.db.query(
            "SELECT count(*) FROM queue_job WHERE identity_key = 'k-1'")[0][0], 1)


class TestDelayInLoops(unittest.TestCase):
    """From its second job a cursor inserts through a prepared statement;
    Odoo resets pooled connections between cursors."""

    def setUp(self):
        self.db = CommittedDatabase()
        self.addCleanup(self.db.drop)

    def test_loops_of_delays_on_successive_cursors_write_every_job(self):
        for loop in range(3):
            with self.db.env() as env:
                record = env['background.job.test.record'].create({'name': 'loop'})
                ids = [record.log_run.delay('loop-%d-%d' % (loop, n), info={'n': n}).id
                       for n in range(5)]
                again = record.with_delay(identity_key='loop-key-%d' % loop).noop()
                self.assertEqual(record.with_delay(identity_key='loop-key-%d' % loop).noop(), again)
            self.assertEqual(len(set(ids)), 5)
        rows = self.db.query("SELECT args, kwargs FROM queue_job WHERE method_name = 'log_run' "
                             "ORDER BY id")
        self.assertEqual(len(rows), 15)
        self.assertEqual(rows[7], ('["loop-1-2"]', '{"info":{"n":2}}'))
        self.assertEqual(self.db.query("SELECT count(*) FROM queue_job WHERE identity_key "
                                       "LIKE 'loop-key-%'")[0][0], 3)
