"""The Odoo cursor jobs run in: BEGIN and COMMIT ride along with the job's
first and last statements.

A plain Odoo cursor costs two round trips of its own per transaction:
psycopg2 sends BEGIN alone before the first statement, and COMMIT alone.
For a no-op job that is two of the five round trips it costs in all. This
cursor runs its connection in psycopg2's autocommit mode and opens its
transactions itself: BEGIN is sent in front of the first statement of a
transaction, and the worker ends a job with its done update and COMMIT in
one message (``execute_and_commit``). To Odoo and to job code it behaves as
any Odoo cursor: statements run in a REPEATABLE READ transaction that
``commit()`` and ``rollback()`` end, and their event handlers run.

A job that commits (or rolls back) on its own keeps its row locked: the
lock statement given to ``execute_and_hold`` begins the next transaction in
the same round trip, so the reaper never sees the running job unlocked.
If that lock statement returns no row (the row is no longer the job's),
the commit raises JobLostError and nothing more of the job commits.

A savepoint taken just after the lock, in front of the job's first
statement (no round trip of its own, none at all for a job that runs no
SQL), lets ``undo_job`` roll the job's work back while its row stays
locked: its failure is then recorded before the reaper can see it.
"""
import psycopg2

from odoo import sql_db

from ..engine import defaults
from ..engine.exceptions import JobLostError
from ..engine.outage import connection_lost
from .options import settings

BEGIN = 'BEGIN ISOLATION LEVEL REPEATABLE READ;\n'
SAVEPOINT = 'background_job_attempt'


class _OwnConnection:
    """What a JobCursor borrows its connection from, in place of Odoo's
    shared pool: a connection of its own, kept across close() until
    JobCursor.close_connection(). Odoo's pool (db_maxconn) is for HTTP
    requests and crons; a job thread keeps its cursor for as long as it
    has work, which would starve them."""

    def __init__(self):
        self.connection = None

    def borrow(self, connection_info):
        if self.connection is None or self.connection.closed:
            # A job's row lock is its proof of life: if this machine is lost,
            # PostgreSQL must end the session, and release the lock, within
            # network_timeout (Settings.connection_parameters).
            self.connection = psycopg2.connect(
                connection_factory=sql_db.PsycoConnection,
                **dict(connection_info, application_name='background_job',
                       **settings().connection_parameters()))
            if self.connection.server_version >= 140000:
                # A job process that died mid-statement (a crash, a kill
                # for memory) leaves its session running the statement to
                # its end, the row locked, its job not requeued: PostgreSQL
                # checks the client is still there every so often.
                with self.connection.cursor() as cr:
                    cr.execute('SET client_connection_check_interval = %s',
                               (defaults.DEAD_CLIENT_CHECK_MS,))
                self.connection.commit()
        return self.connection

    def give_back(self, connection, keep_in_pool=True):
        pass  # kept for the next cursor of the thread, closed by close()

    def close(self):
        if self.connection is not None and not self.connection.closed:
            self.connection.close()


class JobCursor(sql_db.Cursor):
    # 'due' after the held lock (taken with the next statement), then 'taken'
    _savepoint = None
    _lost = False  # the held lock found no row: the job is over

    def __init__(self, dbname):
        dbname, connection_info = sql_db.connection_info_for(dbname)
        self._in_transaction = False
        self._held = None  # the job's lock statement, with its parameters
        self._own_connection = _OwnConnection()
        super().__init__(self._own_connection, dbname, connection_info)

    def close_connection(self):
        """Close the cursor if it is open, and its connection."""
        try:
            if not self.closed:
                self.close()
        except psycopg2.InterfaceError:
            pass  # the connection was closed already (ended by the watchdog, or lost)
        finally:
            self._own_connection.close()

    def backend_pid(self):
        """The PostgreSQL backend of this cursor's connection (no round trip):
        the watchdog ends it at a job's time limit (engine/watchdog.py)."""
        return self._cnx.get_backend_pid()

    def autocommit(self, on):
        # Cursor.__init__ asks for a transaction mode: this cursor's
        # transactions are explicit, so psycopg2 must never begin one itself.
        self._cnx.autocommit = True

    def execute(self, query, params=None, log_exceptions=None):
        if not self._in_transaction:
            query = BEGIN + query
            self._in_transaction = True
        if self._savepoint == 'due':
            query = 'SAVEPOINT %s;\n%s' % (SAVEPOINT, query)
            self._savepoint = 'taken'
        return self._send(query, params, log_exceptions)

    def _send(self, query, params=None, log_exceptions=None):
        """Odoo's execute, with its "bad query" error line, but not for a
        lost connection: the worker logs an outage once (engine/outage.py),
        not once per job and statement."""
        try:
            return super().execute(query, params, log_exceptions=False)
        except Exception as error:
            log = self._default_log_exceptions if log_exceptions is None else log_exceptions
            if log and not connection_lost(error):
                sql_db._logger.error('bad query: %s\nERROR: %s', self._obj.query or query, error)
            raise

    def execute_and_hold(self, query, params=None):
        """Run ``query`` now and again at the start of each later transaction
        of this job, until execute_and_commit() or abort() ends it."""
        self.execute(query, params)
        self._held = self._obj.mogrify(query, params).decode()
        self._savepoint = 'due'

    def execute_and_commit(self, query, params=None):
        """Run ``query`` and COMMIT in one round trip."""
        self._held = self._savepoint = None
        self.execute(query + ';\nCOMMIT', params)  # on error, still in a transaction
        self._in_transaction = False
        self._run_handlers('commit')

    def undo_job(self):
        """Roll back what the job did since its row lock, which stays held."""
        if self._lost or not self._held:
            raise JobLostError('the job holds no lock of its row')
        if self._savepoint == 'taken':
            self._send('ROLLBACK TO SAVEPOINT ' + SAVEPOINT)
        self._run_handlers('rollback')

    def commit_job(self):
        """Commit the job's last transaction: its row lock ends."""
        self._held = self._savepoint = None
        self.commit()

    def abort(self):
        """The worker's rollback: the job is over."""
        self._held = self._savepoint = None
        self._lost = False
        self.rollback()

    def commit(self):
        self._end_transaction('COMMIT')
        self._run_handlers('commit')
        self._check_held()

    def rollback(self):
        self._end_transaction('ROLLBACK')
        self._run_handlers('rollback')
        self._check_held()

    def _check_held(self):
        if self._lost:
            raise JobLostError("this job's row is no longer its worker's (requeued, "
                               "cancelled or changed meanwhile): the job stops here")

    def _end_transaction(self, command):
        if self._lost:  # nothing more of a lost job commits
            self._check_held()
        if not self._in_transaction:
            return
        self._in_transaction = False
        if self._held:
            self._send('%s;\n%s%s' % (command, BEGIN, self._held))
            self._in_transaction = True
            # the held statement returns a row while the hold is the job's
            self._lost = self._obj.fetchone() is None
            self._savepoint = 'due'
        else:
            self._send(command)

    def _run_handlers(self, event):
        for handler in self._pop_event_handlers()[event]:
            handler()

    def close(self):
        # no transaction left open on the connection (kept: _OwnConnection)
        self._held = self._savepoint = None
        self._lost = False
        if self._in_transaction and not self._cnx.closed:
            self._in_transaction = False
            try:
                self._obj.execute('ROLLBACK')
            except psycopg2.Error:
                pass
        return super().close()
