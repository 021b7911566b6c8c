"""The cursor jobs run in (service/job_cursor.py): explicit transactions
that must behave, to Odoo and job code, as an Odoo cursor's."""
import psycopg2
import psycopg2.errors

from odoo.tools import mute_logger

from odoo.addons.background_job.service.job_cursor import JobCursor

from .common import CommittedDatabaseCase


class TestJobCursor(CommittedDatabaseCase):

    def setUp(self):
        self.cr = JobCursor(self.db.name)
        self.addCleanup(lambda: self.cr.closed or self.cr.close())
        self.cr.execute('CREATE TABLE IF NOT EXISTS job_cursor_probe (marker text)')
        self.cr.execute('TRUNCATE job_cursor_probe')
        self.cr.commit()

    def markers(self):
        """What another session sees."""
        return sorted(row[0] for row in self.db.query('SELECT marker FROM job_cursor_probe'))

    def insert(self, marker):
        self.cr.execute('INSERT INTO job_cursor_probe VALUES (%s)', (marker,))

    def test_statements_run_in_a_repeatable_read_transaction_until_commit(self):
        self.insert('a')
        self.cr.execute('SHOW transaction_isolation')
        self.assertEqual(self.cr.fetchone()[0], 'repeatable read')
        self.assertEqual(self.markers(), [])
        self.cr.commit()
        self.assertEqual(self.markers(), ['a'])

    def test_rollback_undoes_only_the_current_transaction(self):
        self.insert('kept')
        self.cr.commit()
        self.insert('undone')
        self.cr.rollback()
        self.insert('after')  # a new transaction begins
        self.cr.commit()
        self.assertEqual(self.markers(), ['after', 'kept'])

    def test_execute_and_commit_commits_and_runs_the_commit_handlers(self):
        events = []
        self.insert('first')
        self.cr.after('commit', lambda: events.append('committed'))
        self.cr.after('rollback', lambda: events.append('rolled back'))
        self.cr.execute_and_commit('INSERT INTO job_cursor_probe VALUES (%s)', ('last',))
        self.assertEqual(events, ['committed'])
        self.assertEqual(self.markers(), ['first', 'last'])
        self.cr.after('rollback', lambda: events.append('rolled back'))
        self.insert('undone')
        self.cr.rollback()
        self.assertEqual(events, ['committed', 'rolled back'])
        self.assertEqual(self.markers(), ['first', 'last'])

    def test_a_failed_statement_is_rolled_back_and_the_cursor_goes_on(self):
        self.insert('undone')
        with self.assertRaises(Exception):
            self.cr.execute('SELECT 1/0', log_exceptions=False)
        self.cr.rollback()
        self.insert('next')
        self.cr.commit()
        self.assertEqual(self.markers(), ['next'])

    def test_a_failed_execute_and_commit_is_rolled_back_by_abort(self):
        # the failing statement is the first of its transaction
        with self.assertRaises(psycopg2.Error), mute_logger('odoo.sql_db'):
            self.cr.execute_and_commit('SELECT 1/0')
        self.cr.abort()
        self.insert('next')
        self.cr.commit()
        self.assertEqual(self.markers(), ['next'])

    def test_close_ends_an_open_transaction(self):
        self.insert('open')
        self.cr.execute('SELECT pg_backend_pid()')
        pid = self.cr.fetchone()[0]
        self.cr.close()
        self.assertEqual(self.markers(), [])
        state, = self.db.query('SELECT state FROM pg_stat_activity WHERE pid = %s', (pid,))[0]
        self.assertEqual(state, 'idle')  # back in Odoo's pool, no transaction left open

    def test_a_held_lock_is_taken_again_by_every_later_transaction_until_abort(self):
        self.insert('row')
        self.cr.commit()
        lock = "SELECT 1 FROM job_cursor_probe WHERE marker = %s FOR UPDATE"
        self.cr.execute_and_hold(lock, ('row',))

        def locked_elsewhere():
            try:
                self.db.query(lock + ' NOWAIT', ('row',))
            except psycopg2.errors.LockNotAvailable:
                return True
            return False
        for end in (self.cr.commit, self.cr.rollback):
            end()  # as job code may do: the next transaction holds the lock at once
            self.assertTrue(locked_elsewhere())
        self.cr.abort()
        self.assertFalse(locked_elsewhere())
