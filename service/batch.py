"""Batches in Odoo: validate the call, then one bulk INSERT in the caller's
transaction (store.enqueue_batch); and the done method's call."""
from ..engine import batch, defaults, states, store
from . import enqueue


def execute(env, model_name, method_name, record_ids, done_method=None,
            job_size=defaults.JOB_SIZE, job_res_id=None, args=(), kwargs=None,
            channel=None, priority=None):
    """Split ``record_ids`` into child jobs of ``job_size`` ids under one
    batch; returns the batch's queue.job record. Everything is checked
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
    values['parent_id'] = store.batch_of_job(env.cr, env.context['background_job_id']) \
        if env.context.get('background_job_id') else None
    name = '%s (batch of %d records, %d per job)' % (values['name'], len(ids), job_size)
    if enqueue.run_now(env):
        return _run_immediately(env, job_method, model, ids, values, name, done_method,
                                job_size, job_res_id, args, kwargs)
    batch_id, _ = store.enqueue_batch(env.cr, values, ids, job_size, done_method or None,
                                      job_res_id, name)
    if not ids:  # nothing to wait for: done (or done method enqueued) at once
        batch.finish_batches(env.cr, [batch_id])
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


def _run_immediately(env, job_method, model, ids, values, name, done_method, job_size,
                     job_res_id, args, kwargs):
    """run_now mode: every chunk, then the done method, in the caller's
    transaction; the rows record a done batch with done children."""
    for start in range(0, len(ids), job_size):
        job_method.func(model.browse(ids[start:start + job_size]), *args, **kwargs)
    batch_id, _ = store.enqueue_batch(env.cr, values, ids, job_size, done_method or None,
                                      job_res_id, name, child_state=states.DONE)
    if done_method:
        call_done_method(env, batch_id, done_method, job_res_id)
    store.mark_batch_done(env.cr, batch_id, None)
    env['queue.job'].invalidate_cache(ids=[batch_id])  # the done method may have read it
    return env['queue.job'].browse(batch_id)
