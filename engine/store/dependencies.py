"""Dependencies between jobs (chains, groups, on_done): the edge table's
statements and the database functions that move dependents along when a
job they wait for ends, each next to the function that runs it.

A job with unfinished dependencies is ``waiting`` (the claim only takes
pending jobs). Its edges are rows of ``queue_job_dependency`` (job_id waits
for depends_on_id; the ORM's many2many table of models/queue_job_dependency.py,
whose foreign keys cascade on delete), and every job that others wait for
has ``has_dependents`` set when the edges are written. A row trigger
guarded by that flag (``WHEN``, evaluated without calling any function)
follows each state change of such a job, in the transaction that makes it:

- done: its dependents whose dependencies are all done become pending,
  with a NOTIFY (delivered on commit: workers start them within ms);
- failed for good or cancelled: its waiting dependents are cancelled,
  "dependency N failed" (the trigger of each follows on: transitively);
- back to pending or waiting from failed or cancelled (a requeue): the
  dependents it cancelled wait again, transitively.

A job without dependents pays for the ``WHEN`` test only. Every statement
that ends a job (the worker's done update, run now, set done, batches, the
admin's cancel) is followed, with no change to it.

The one race the trigger cannot see: two dependencies of one job ending at
the same moment in REPEATABLE READ transactions (the worker's jobs) each
see the other unfinished. So after such a job committed the worker checks
its dependents again in a READ COMMITTED transaction (promote_dependents),
which sees both; the row lock of the dependent and its ``state =
'waiting'`` test make the promotion happen once. The finish cron does the
same for every waiting job (a job set done by hand in such a race).

A batch may be a dependent: its parent is waiting anyway (engine/batch.py),
and its children wait too until the batch's dependencies are done; then the
children become pending. A batch as a dependency counts as done when its
parent is (after its done method).
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

from ..job_row import NOW_UTC
from .jobs import NOTIFY_CHANNEL

# exc_type of a job cancelled because a dependency ended without being
# done: only those are revived when that dependency is requeued.
DEPENDENCY_ERROR = 'DependencyError'

# The jobs ``targets`` (a SQL set of job ids) and, for batches among them,
# their children: a batch's children follow their batch. One set of ids, so
# that the update finds its rows by primary key (an OR of two conditions
# would read the whole table), the children by queue_job_parent_state_idx.
_THEM = """job.id IN (SELECT id FROM ({targets}) target (id)
              UNION ALL
              SELECT child.id FROM queue_job child
              WHERE child.parent_id IN ({targets}) AND child.is_batch IS NOT TRUE)"""

# Promote the dependents of ``ids`` whose dependencies are all done: jobs
# become pending, a waiting batch's waiting children too (the batch stays
# waiting for them). Shared by the trigger (in the ending job's
# transaction) and by promote_dependents (READ COMMITTED, after it). Returns
# how many became pending; ``notify``: NOTIFY wakes the workers on commit. The generic
# plan: PL/pgSQL would otherwise plan the statement anew at every call (its
# custom plans look cheaper), which costs more than running it.
PROMOTE_FUNCTION = """
CREATE OR REPLACE FUNCTION background_job_promote_dependents(ids integer[],
                                                             notify boolean DEFAULT true)
RETURNS integer LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    promoted integer;
BEGIN
    WITH ready AS (
        SELECT dependent.id FROM queue_job dependent
        WHERE dependent.id IN (SELECT job_id FROM queue_job_dependency
                               WHERE depends_on_id = ANY(ids))
          AND dependent.state = 'waiting'
          AND NOT EXISTS (SELECT 1 FROM queue_job_dependency edge
                          JOIN queue_job needed ON needed.id = edge.depends_on_id
                          WHERE edge.job_id = dependent.id AND needed.state <> 'done')
    )
    UPDATE queue_job job SET state = 'pending'
    WHERE job.state = 'waiting' AND job.is_batch IS NOT TRUE
      AND {them};
    GET DIAGNOSTICS promoted = ROW_COUNT;
    IF promoted > 0 AND notify THEN
        PERFORM pg_notify('{channel}', '');
    END IF;
    RETURN promoted;
END $$""".format(channel=NOTIFY_CHANNEL, them=_THEM.format(targets='SELECT id FROM ready'))

# Set for the session of a job thread's cursor (service/executor.py).
WORKER_SETTING = 'background_job.worker'
WORKER_SESSION = "SET %s = 'on'" % WORKER_SETTING


def mark_worker_session(cr) -> None:
    """The job transactions of this session notify after their commit."""
    cr.execute(WORKER_SESSION)


# The trigger's body (see the module's docstring). Cancelling or reviving a
# dependent fires the trigger of that dependent in turn: the change goes
# down the graph. In a worker's job transaction (WORKER_SESSION) the
# promotion sends no NOTIFY: a NOTIFY makes the COMMIT take a lock that
# every notifying transaction of the cluster queues on while its commit
# waits for the disk, which caps such jobs at one commit at a time (a
# quarter of the throughput, measured); the worker notifies right after,
# on its own connection, whose commits do not wait (promote_dependents).
FOLLOW_FUNCTION = """
CREATE OR REPLACE FUNCTION background_job_follow_dependency()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state = 'done' THEN
        PERFORM background_job_promote_dependents(
            ARRAY[NEW.id], current_setting('{worker}', true) IS DISTINCT FROM 'on');
    ELSIF NEW.state IN ('failed', 'cancelled') THEN
        UPDATE queue_job job
        SET state = 'cancelled', date_done = {now}, worker_id = NULL,
            exc_type = '{error}', exc_message = format('dependency %s %s', NEW.id, NEW.state)
        WHERE job.state = 'waiting' AND {them};
    ELSIF NEW.state IN ('pending', 'waiting') AND OLD.state IN ('failed', 'cancelled') THEN
        UPDATE queue_job job
        SET state = 'waiting', date_done = NULL, exc_type = NULL, exc_message = NULL
        WHERE job.state = 'cancelled' AND job.exc_type = '{error}' AND {them};
    END IF;
    RETURN NULL;
END $$""".format(now=NOW_UTC, error=DEPENDENCY_ERROR, worker=WORKER_SETTING, them=_THEM.format(
    targets='SELECT job_id FROM queue_job_dependency WHERE depends_on_id = NEW.id'))

# WHEN is checked for each updated row without a function call: the cost
# every other job pays.
TRIGGER = """
CREATE TRIGGER background_job_follow_dependency
AFTER UPDATE OF state ON queue_job FOR EACH ROW
WHEN (NEW.has_dependents AND NEW.state IS DISTINCT FROM OLD.state)
EXECUTE PROCEDURE background_job_follow_dependency()"""
DROP_TRIGGER = 'DROP TRIGGER IF EXISTS background_job_follow_dependency ON queue_job'

# engine/schema.py runs these on install and upgrade, after the ORM made
# the edge table; UNINSTALL when the addon goes.
SCHEMA = (PROMOTE_FUNCTION, FOLLOW_FUNCTION, DROP_TRIGGER, TRIGGER)
UNINSTALL = (
    'DROP FUNCTION IF EXISTS background_job_follow_dependency() CASCADE',
    'DROP FUNCTION IF EXISTS background_job_promote_dependents(integer[])',
)

# A graph's edges in one statement, the ids as two arrays (one round trip
# however many), and the flag on the jobs waited for, so that their ends
# are followed. The flag of a job that has it already is not rewritten (no
# row lock on a job a worker may be running).
ADD_DEPENDENCIES = """
WITH edge AS (
    INSERT INTO queue_job_dependency (job_id, depends_on_id)
    SELECT * FROM unnest(%(job_ids)s::integer[], %(depends_on_ids)s::integer[])
    ON CONFLICT DO NOTHING
    RETURNING depends_on_id
)
UPDATE queue_job SET has_dependents = true
WHERE id IN (SELECT depends_on_id FROM edge) AND has_dependents IS NOT TRUE
"""


def add_dependencies(cr, edges: Sequence[tuple]) -> None:
    """Write ``(job id, id of a job it waits for)`` edges, in the caller's
    transaction. The waiting jobs must have been written ``waiting``."""
    if edges:
        cr.execute(ADD_DEPENDENCIES, {'job_ids': [int(job) for job, _ in edges],
                                      'depends_on_ids': [int(needed) for _, needed in edges]})


MARK_HAS_DEPENDENTS = """
UPDATE queue_job SET has_dependents = true WHERE id = %(id)s AND has_dependents IS NOT TRUE
"""


def mark_has_dependents(cr, job_id: int) -> None:
    """Follow the end of a job that later jobs may come to wait for (a
    periodic job): set it while the job is new, before a worker locks it."""
    cr.execute(MARK_HAS_DEPENDENTS, {'id': job_id})


PROMOTE = 'SELECT background_job_promote_dependents(%(ids)s::integer[])'
# After a worker's job: its own promotions did not notify (FOLLOW_FUNCTION).
PROMOTE_AND_NOTIFY = ("SELECT background_job_promote_dependents(%(ids)s::integer[]), "
                      "pg_notify('{channel}', '')".format(channel=NOTIFY_CHANNEL))

# The jobs that waiting jobs wait for: what the finish cron re-checks.
WAITED_FOR = """
SELECT DISTINCT edge.depends_on_id FROM queue_job_dependency edge
JOIN queue_job job ON job.id = edge.job_id
WHERE job.state = 'waiting'
"""


def promote_dependents(cr, job_ids: Optional[Iterable[int]], after_worker_job=False) -> int:
    """Make pending the dependents of these jobs (None: of every job that a
    waiting job waits for) whose dependencies are all done; how many. Run
    it in a READ COMMITTED transaction that began after those jobs' own
    committed (see the module's docstring). ``after_worker_job``: notify
    the workers in any case (the job's transaction did not)."""
    if job_ids is None:
        cr.execute(WAITED_FOR)
        job_ids = [row[0] for row in cr.fetchall()]
    job_ids = list(job_ids)
    if not job_ids:
        return 0
    cr.execute(PROMOTE_AND_NOTIFY if after_worker_job else PROMOTE, {'ids': job_ids})
    return cr.fetchone()[0]


def recheck_dependents(connection, job_ids: Sequence[int]) -> None:
    """After a worker's job committed: promote_dependents of ``job_ids``
    (engine/graph.py waited_for) as one autocommitted statement on the job
    thread's connection (READ COMMITTED, one round trip), and notify."""
    if job_ids:
        with connection.cursor() as cr:
            promote_dependents(cr, job_ids, after_worker_job=True)


# A requeued job whose dependencies are not all done waits for them.
BACK_TO_WAITING = """
UPDATE queue_job job SET state = 'waiting'
WHERE job.id = ANY(%(ids)s) AND job.state = 'pending'
  AND EXISTS (SELECT 1 FROM queue_job_dependency edge
              JOIN queue_job needed ON needed.id = edge.depends_on_id
              WHERE edge.job_id = job.id AND needed.state <> 'done')
"""


def wait_for_dependencies(cr, job_ids: Iterable[int]) -> None:
    """Pending jobs among ``job_ids`` whose dependencies are not all done
    wait again (after an admin's requeue)."""
    cr.execute(BACK_TO_WAITING, {'ids': list(job_ids)})
