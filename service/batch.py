"""Batches in Odoo: validate the call, then one bulk INSERT in the caller's
transaction (store.enqueue_batch); and the done method's call."""
from ..engine import batch, defaults, states, store
from . import enqueue, executor


def execute(env, model_name, method_name, record_ids, done_method=None,
            job_size=defaults.JOB_SIZE, job_res_id=None, args=(), kwargs=None,
            channel=None, priority=None, waiting=False):
    """Split ``record_ids`` into child jobs of ``job_size`` ids under one
    batch; returns the batch's queue.job record. ``waiting``: its children
    wait (for the batch's dependencies, service/delayable.py). Everything is checked
    before anything is written (see queue.job ``batch_execute_job``).

    Private methods are refused, as job and as done method: like every
    public model method, batch_execute_job can be called over RPC, and must
    not open a way to methods that RPC refuses."""
    if model_name not in env:
        raise ValueError('batch of %s.%s: model %r does not exist (is its module installed?)'
                         % (model_name, method_name, model_name))
    if method_name.startswith('_'):
        raise ValueError('batch of %s.%s: %s is private; a batch runs public @job methods '
                         'only' % (model_name, method_name, method_name))
    model = env[model_name]
    job_method = enqueue.find_job(model, method_name)
    job_size = batch.check_job_size(job_size)
    check_done_method(env, done_method)
    if job_res_id and (isinstance(job_res_id, bool) or not isinstance(job_res_id, int)):
        raise ValueError('job_res_id must be a record id (an integer), not %r' % (job_res_id,))
    ids = list(getattr(record_ids, 'ids', record_ids))
    args, kwargs = tuple(args or ()), dict(kwargs or {})
    values = enqueue.job_values(model, job_method, args, kwargs,
                                {'channel': channel, 'priority': priority})
    if waiting:
        values['state'] = states.WAITING
    values['parent_id'] = store.batch_of_job(env.cr, env.context['background_job_id']) \
        if env.context.get('background_job_id') else None
    name = '%s (batch of %d records, %d per job)' % (values['name'], len(ids), job_size)
    batch_id, _ = store.enqueue_batch(env.cr, values, ids, job_size, done_method or None,
                                      job_res_id, name)
    if not ids:  # nothing to wait for: done (or done method enqueued) at once
        batch.finish_batches(env.cr, [batch_id])
    if enqueue.run_now(env):
        _run_immediately(env, batch_id)
    return env['queue.job'].browse(batch_id)


def check_done_method(env, done_method):
    """ValueError unless ``done_method`` names a public method of an
    installed model (or is empty)."""
    if not done_method:
        return
    model_name, method_name = batch.split_done_method(done_method)
    if model_name not in env:
        raise ValueError('done_method %r: model %r does not exist (is its module installed?)'
                         % (done_method, model_name))
    if method_name.startswith('_'):
        raise ValueError('done_method %r: %s is private; a done method must be public'
                         % (done_method, method_name))
    if not callable(getattr(type(env[model_name]), method_name, None)):
        raise ValueError('done_method %r: model %s has no method %s'
                         % (done_method, model_name, method_name))


def call_done_method(env, batch_id, done_method, job_res_id):
    """``env[model].with_context(batch_job_id=...).method(job_res_id)``, or
    without argument when there is no job_res_id."""
    model_name, method_name = batch.split_done_method(done_method)
    method = getattr(env[model_name].with_context(batch_job_id=batch_id), method_name)
    return method(job_res_id) if job_res_id else method()


def _run_immediately(env, batch_id):
    """run_now mode: run the batch's jobs at once in the caller's
    transaction, in order, as the caller, then its done method (the job the
    last of them enqueued), with a worker's outcomes (executor.perform_now):
    the rows end as workers leave them. A failure's exception propagates;
    the jobs after it stay pending."""
    def call(job):
        return executor.call_claimed(env(context=dict(env.context, background_job_id=job.id)), job)
    jobs = env['queue.job'].sudo()
    for child in jobs.search([('parent_id', '=', batch_id)], order='id'):
        executor.perform_now(env, child, call)
    done_job = jobs.browse(batch_id).done_job_id
    if done_job:
        executor.perform_now(env, done_job, call)
