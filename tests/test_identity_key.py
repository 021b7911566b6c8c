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
