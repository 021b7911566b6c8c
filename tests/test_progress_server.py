"""Progress in a real Odoo server: a reader sees a running job's progress
move over JSON-RPC while the job holds its row lock, and a job's rollback
keeps the progress it reported."""
import time
import unittest

import psycopg2
import psycopg2.errors
import pytest

from odoo.addons.background_job.service.server import connect

from .common import CommittedDatabase, wait_for
from .jsonrpc import JsonRpcSession
from .odoo_server import OdooServer

pytestmark = pytest.mark.server

FIELDS = ['state', 'progress', 'progress_done', 'progress_total', 'progress_message']


class TestProgressServer(unittest.TestCase):

    def setUp(self):
        self.db = CommittedDatabase()
        self.addCleanup(self.db.drop)

    def row_locked(self, job_id):
        """Whether the job's row is locked (by its worker), without waiting."""
        connection = connect(self.db.name)
        try:
            with connection, connection.cursor() as cr:
                cr.execute('SELECT id FROM queue_job WHERE id = %s FOR NO KEY UPDATE NOWAIT',
                           (job_id,))
            return False
        except psycopg2.errors.LockNotAvailable:
            return True
        finally:
            connection.close()

    def test_a_reader_sees_progress_move_while_the_job_runs_and_holds_its_row(self):
        with OdooServer(self.db.name) as server:
            session = JsonRpcSession(server, 'admin', 'admin')
            with self.db.env() as env:
                record = env['background.job.test.record'].create({'name': 'progress'})
                steps = record.progress_steps.delay('steps', 5, 0.8).id
                locked = record.progress_on_locked_row.delay('locked', 4, 0.8).id
                failing = record.progress_steps.delay('failing', 3, 0.3, fail=True).id
            seen = {steps: [], locked: []}
            lock_held = []

            def read():
                rows = session.call_kw('queue.job', 'read', [[steps, locked, failing], FIELDS])
                return {row['id']: row for row in rows}

            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                rows = read()
                for job_id in seen:
                    row = rows[job_id]
                    if row['state'] == 'started' and 0 < row['progress_done'] < row['progress_total']:
                        if (row['progress_done'], row['progress_message']) not in seen[job_id]:
                            seen[job_id].append((row['progress_done'], row['progress_message']))
                            lock_held.append(self.row_locked(job_id))
                if all(row['state'] != 'started' and row['state'] != 'pending'
                       for job_id, row in rows.items() if job_id != failing):
                    break
                time.sleep(0.1)
            final = wait_for(lambda: (lambda rows: rows[failing]['retry'] >= 1 and rows)(
                {row['id']: row for row in session.call_kw(
                    'queue.job', 'read', [[steps, locked, failing], FIELDS + ['retry']])}),
                60, message='the failing job failed once')
        self.assertEqual([done for done, _message in seen[steps]], sorted(
            done for done, _message in seen[steps]), 'progress only goes forward')
        self.assertGreaterEqual(len(seen[steps]), 3, seen)
        self.assertIn((2.0, 'steps: step 2 of 5'), seen[steps])
        self.assertGreaterEqual(len(seen[locked]), 2,
                                'progress written while the job updated its own row: %s' % seen)
        self.assertTrue(all(lock_held), 'the job kept its row lock while its progress was read')
        self.assertEqual((final[steps]['state'], final[steps]['progress'],
                          final[steps]['progress_message']), ('done', 100.0, 'steps: all 5 steps'))
        self.assertEqual(final[locked]['state'], 'done')
        # its work was rolled back (no log row), its progress is still there
        self.assertEqual(self.db.log_count('failing'), 0)
        self.assertEqual((final[failing]['state'], final[failing]['progress_done'],
                          final[failing]['progress_total'], final[failing]['progress']),
                         ('pending', 3.0, 3.0, 100.0))
