"""The supersede rule, shared by every statement that sets a job back to
pending (a retry, a release, the reaper, an admin, a batch requeue), and
how such statements are run: a bad row never stops the others."""
from __future__ import annotations

import contextlib
import itertools
import logging

import psycopg2
import psycopg2.extensions

from ..job_row import CLOCK_UTC

_logger = logging.getLogger(__name__)

# How often a statement that sets jobs back to pending is tried before it is
# given up (or run row by row): see SUPERSEDING_JOB.
REQUEUE_ATTEMPTS = 3

# identity_key is unique among waiting and pending jobs, and while a job ran
# another job may have taken its key (delay() inserts it). The job then ends
# instead, cancelled, "superseded by job N": the other job does the same
# work. SUPERSEDING_JOB names that other job, read with the statement's
# snapshot (the partial unique index finds it). A concurrent delay() not yet
# committed is not seen: the update then fails with a unique violation once
# that delay() commits, and run() runs it again (READ COMMITTED: the next try
# sees that job), row by row if need be (run_each).
SUPERSEDING_JOB = """(SELECT other.id FROM queue_job other
 WHERE other.identity_key = job.identity_key AND other.state IN ('waiting', 'pending')
   AND other.id <> job.id ORDER BY other.id LIMIT 1)"""


def back_to_pending(pending: str = 'TRUE', otherwise: str = "'failed'",
                    exc_message: str = 'job.exc_message') -> str:
    """The SET items state, date_done, exc_message and worker_id of a
    statement that sets ``queue_job job`` back to pending where the SQL
    condition ``pending`` holds (else to the state ``otherwise``, ended),
    under the supersede rule; ``exc_message`` for a job not superseded."""
    return """state = CASE WHEN NOT ({pending}) THEN {otherwise}
                 WHEN {other} IS NULL THEN 'pending' ELSE 'cancelled' END,
    date_done = CASE WHEN ({pending}) AND {other} IS NULL THEN NULL ELSE {end} END,
    exc_message = CASE WHEN ({pending}) AND {other} IS NOT NULL
                       THEN 'superseded by job ' || {other} ELSE {exc_message} END,
    worker_id = NULL""".format(pending=pending, otherwise=otherwise, other=SUPERSEDING_JOB,
                               end=CLOCK_UTC, exc_message=exc_message)


# Errors of one bad row (a constraint, a value); the others (the
# connection, a conflict between transactions, a bug) go up.
_ROW_ERRORS = (psycopg2.IntegrityError, psycopg2.DataError)
_savepoint_names = itertools.count(1)


@contextlib.contextmanager
def _subtransaction(cr):
    """A savepoint inside a transaction; on an autocommit connection outside
    one, nothing (each statement is a transaction of its own there)."""
    connection = cr.connection
    if connection.autocommit and (connection.get_transaction_status()
                                  == psycopg2.extensions.TRANSACTION_STATUS_IDLE):
        yield
        return
    name = 'background_job_%d' % next(_savepoint_names)
    cr.execute('SAVEPOINT ' + name)
    try:
        yield
    except BaseException:
        cr.execute('ROLLBACK TO SAVEPOINT ' + name)
        raise
    cr.execute('RELEASE SAVEPOINT ' + name)


def run(cr, statement: str, params: dict, what, attempts: int = REQUEUE_ATTEMPTS):
    """Run a statement that may set jobs back to pending (see
    SUPERSEDING_JOB): its rows, or its row count when it returns none;
    None if it kept failing on a bad row (logged). Statements on many rows
    are tried once: then row by row (run_each)."""
    for attempt in range(1, attempts + 1):
        try:
            with _subtransaction(cr):
                cr.execute(statement, params)
                return cr.fetchall() if cr.description else cr.rowcount
        except _ROW_ERRORS as error:
            _logger.warning('job(s) %s: attempt %d of %d failed: %s',
                            what, attempt, attempts, error)
    return None


def run_each(cr, statement: str, params: dict, ids_key: str, ids: list) -> list:
    """Run ``statement`` for each of ``ids`` on its own: each sees the ones
    before (a second job with the same identity_key is superseded by the
    first), and a bad row is logged and skipped."""
    rows = []
    for job_id in ids:
        result = run(cr, statement, dict(params, **{ids_key: [job_id]}), job_id)
        if result is None:
            _logger.error('job %s could not be requeued; it is left as it is', job_id)
        else:
            rows += result
    return rows
