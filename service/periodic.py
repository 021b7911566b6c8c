"""Periodic jobs: an ``ir.cron`` with run_as_queue_job enqueues a job when
it is due instead of running its code (models/ir_cron.py); one job per due
time across servers (engine/store/crons.py)."""
import logging

from ..engine import states, store
from ..engine.store import crons, dependencies
from . import enqueue

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
        store.promote_dependents(cr, [running[0]])  # ended since it was read
    return job_id
