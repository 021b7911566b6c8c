"""Periodic jobs: an ``ir.cron`` with run_as_queue_job enqueues a job when
it is due instead of running its code (models/ir_cron.py); one job per due
time across servers (engine/store/crons.py)."""
import logging

import psycopg2

from ..engine import states, store
from ..engine.store import crons, dependencies
from . import enqueue, server

_logger = logging.getLogger(__name__)

JOB_METHOD = '_run_as_queue_job'
OVERLAP_SELECTION = [('wait', 'Wait for the previous job'),
                     ('skip', 'Skip while the previous job runs')]
UNFINISHED = (states.WAITING, states.PENDING, states.STARTED)


def enqueue_due(cron):
    """Enqueue the job of ``cron``'s due time (its nextcall, read in this
    transaction) as the cron's user (``cron``'s environment, as Odoo's cron
    thread makes it), unless another server did, or the previous job is
    unfinished and the cron skips; the job's id or None."""
    settings = cron.sudo()  # the cron's user may not read crons
    cr, due = cron.env.cr, settings.nextcall
    previous = crons.previous_job(cr, cron.id, due)
    running = previous if previous and previous[1] in UNFINISHED else None
    if running and settings.queue_job_overlap == 'skip':
        _logger.info('cron %s: due %s skipped, job %s of the previous one is %s',
                     settings.name, due, *running)
        return None
    if not crons.take_slot(cr, cron.id, due):
        _logger.info('cron %s: the job of due %s was enqueued already', settings.name, due)
        return None
    values = enqueue.job_values(cron, enqueue.find_job(cron, JOB_METHOD), (), {}, {
        'priority': settings.priority, 'channel': settings.channel_id.name or None,
        'description': settings.name})
    if running:
        values['state'] = states.WAITING
    job_id = store.enqueue(cr, values)
    crons.set_slot_job(cr, cron.id, due, job_id)
    # the next due time may wait for this job: follow its end from the start
    dependencies.mark_has_dependents(cr, job_id)
    if running:
        store.add_dependencies(cr, [(job_id, running[0])])
        cr.after('commit', lambda: promote_after_commit(cr.dbname, running[0]))
    return job_id


def promote_after_commit(dbname, job_id):
    """The previous job may have ended while this transaction was open: its
    own transaction, and the worker's check after it, did not see the new
    edge. Checked again once both committed (READ COMMITTED): the new job
    then starts at once (store/dependencies.py)."""
    connection = server.connect(dbname)
    try:
        with connection, connection.cursor() as cr:
            store.promote_dependents(cr, [job_id])
    except psycopg2.Error:  # the finish cron checks again within a minute
        _logger.warning('could not check the dependents of job %s', job_id, exc_info=True)
    finally:
        connection.close()
