"""Jobs: the statements that enqueue a job, record a job run at once
(run_now), tell an idle worker how long to sleep and purge ended jobs, each
next to the function that runs it. A job's run is in store/runs.py."""
from __future__ import annotations

import weakref
from typing import Optional

from .. import job_row
from ..job_row import NOW_UTC
from . import channels

# Wakes idle workers of this database. NOTIFY is transactional: PostgreSQL
# delivers it only if the enqueuing transaction commits, and folds repeats
# of the same payload within one transaction into one message.
NOTIFY_CHANNEL = 'background_job'

# One statement per delay(): the row and its wake-up notification. The
# conflict target is the partial unique index on identity_key, so a second
# delay() with the key of a waiting or pending job inserts nothing and the
# caller reads the existing job (FIND_BY_IDENTITY). One notification per
# transaction is enough: a transaction-local setting remembers it was sent.
# A rolled-back savepoint undoes both, so the next delay() notifies again.
# (After a transaction the setting reads '', not NULL: hence the COALESCE.)
# The row is job_row's; _enqueue fills in how each of delay()'s values
# (job_row.ENQUEUE_COLUMNS) is passed.
ENQUEUE_TEMPLATE = """
WITH new_job AS (
    {insert}
    ON CONFLICT (identity_key)
        WHERE identity_key IS NOT NULL AND state IN ('waiting', 'pending')
        DO NOTHING
    RETURNING id
)
SELECT id, CASE WHEN COALESCE(current_setting('background_job.notified', true), '') = ''
               THEN pg_notify('{channel}', '')::text
                    || set_config('background_job.notified', 'y', true) END
FROM new_job
"""


def _enqueue(parameters: dict) -> str:
    """ENQUEUE_TEMPLATE with delay()'s values written as ``parameters``."""
    return ENQUEUE_TEMPLATE.format(channel=NOTIFY_CHANNEL, insert=job_row.insert_values(dict(
        parameters, eta='COALESCE(%s, %s)' % (parameters['eta'], NOW_UTC))))


ENQUEUE = _enqueue(job_row.parameters(job_row.ENQUEUE_COLUMNS))

# delay() in a loop: from the second job on one cursor, the insert runs as a
# prepared statement (planning it costs a third of running it). Odoo resets
# a pooled connection, prepared statements included, only when it lends it
# again, so the statement lives as long as the cursor; the check covers a
# connection that kept it from an earlier cursor. Its parameters are
# numbered in ENQUEUE_COLUMNS order; the eta's type is stated, not left to
# be inferred from COALESCE's other argument.
ENQUEUE_IS_PREPARED = ("SELECT EXISTS (SELECT 1 FROM pg_prepared_statements "
                       "WHERE name = 'background_job_enqueue')")
_PREPARED_PARAMETERS = {name: '$%d' % number
                        for number, name in enumerate(job_row.ENQUEUE_COLUMNS, 1)}
PREPARE_ENQUEUE = 'PREPARE background_job_enqueue AS ' + _enqueue(dict(
    _PREPARED_PARAMETERS, eta=_PREPARED_PARAMETERS['eta'] + '::timestamp'))
EXECUTE_ENQUEUE = 'EXECUTE background_job_enqueue (%s)' % ', '.join(
    job_row.parameters(job_row.ENQUEUE_COLUMNS).values())

FIND_BY_IDENTITY = """
SELECT id FROM queue_job
WHERE identity_key = %(identity_key)s AND state IN ('waiting', 'pending')
"""

# cursor -> the enqueue statement to use on it (PREPARE_ENQUEUE)
_enqueue_statements = weakref.WeakKeyDictionary()


def _enqueue_statement(cr) -> str:
    """The plain insert for a cursor's first job, the prepared one after."""
    try:
        statement = _enqueue_statements.get(cr)
    except TypeError:  # a cursor that takes no weak reference: never prepared
        return ENQUEUE
    if statement is None:
        _enqueue_statements[cr] = 'prepare'
        return ENQUEUE
    if statement == 'prepare':
        cr.execute(ENQUEUE_IS_PREPARED)
        if not cr.fetchone()[0]:
            cr.execute(PREPARE_ENQUEUE)
        statement = _enqueue_statements[cr] = EXECUTE_ENQUEUE
    return statement


def enqueue(cr, values: dict) -> int:
    """Insert one job (``values``: job_row.ENQUEUE_COLUMNS); returns its id,
    or the id of the waiting/pending job that already has its identity_key."""
    cr.execute(_enqueue_statement(cr), values)
    row = cr.fetchone()
    if row:
        return row[0]
    cr.execute(FIND_BY_IDENTITY, values)
    row = cr.fetchone()
    if row is None:  # the other job left the pending state meanwhile
        raise RuntimeError('identity key %r conflicted but no pending job has it'
                           % values['identity_key'])
    return row[0]


# How long an idle worker may sleep: until the next eta among the jobs it
# could claim. Jobs of full channels are left out: their eta has passed, so
# counting them would make idle threads claim and ask again at once, in a
# loop. A freed slot wakes the runner's threads (worker.py); other servers
# see it at their next poll.
NEXT_ETA = """
SELECT extract(epoch FROM min(eta) - {now}) FROM queue_job
WHERE state = 'pending' AND channel NOT IN ({full_channels})
""".format(now=NOW_UTC, full_channels=channels.FULL_CHANNELS)


def seconds_to_next_eta(cr) -> Optional[float]:
    cr.execute(NEXT_ETA)
    return cr.fetchone()[0]


# The time limits stored with jobs as stored: the ORM reads a NULL (none
# given: the method's or the server's) as 0 (no limit).
STORED_TIMEOUTS = "SELECT id, timeout FROM queue_job WHERE id = ANY(%(ids)s)"


def stored_timeouts(cr, job_ids) -> dict:
    """{job id: its timeout column, None when not given}."""
    cr.execute(STORED_TIMEOUTS, {'ids': list(job_ids)})
    return dict(cr.fetchall())


PURGE_FINISHED = """
DELETE FROM queue_job
WHERE id IN (SELECT id FROM queue_job
             WHERE state IN ('done', 'cancelled') AND parent_id IS NULL
               AND date_done < {now} - make_interval(days => %(days)s)
             LIMIT %(limit)s)
""".format(now=NOW_UTC)


def purge_finished(cr, days: int, limit: int = 10000) -> int:
    cr.execute(PURGE_FINISHED, {'days': days, 'limit': limit})
    return cr.rowcount
