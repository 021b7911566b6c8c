"""Turn a delayed call into a queue_job row, in the caller's transaction."""
import datetime
import json
import uuid

from odoo import fields

from ..engine import identity, serialization, states, store
from ..engine.job_method import find_job_method
from ..engine.watchdog import check_timeout
from . import executor
from .options import settings

# Context keys a job runs with: what changes the result of business code.
CONTEXT_KEYS = ('lang', 'tz', 'active_test', 'force_company')
RUN_NOW_CONTEXT_KEY = 'background_job_run_now'


class DelayedRecords:
    """``records.with_delay(...)``: attribute access gives a function that
    enqueues the call with those options."""

    __slots__ = ('_records', '_options')

    def __init__(self, records, options):
        check_timeout(options.get('timeout'), 'with_delay(timeout=)')  # refused at once
        self._records = records
        self._options = options

    def __getattr__(self, name):
        def delayed(*args, **kwargs):
            return delay(self._records, name, args, kwargs, self._options)
        delayed.__name__ = name
        return delayed


def delay(records, method_name, args, kwargs, options=None):
    """Enqueue ``records.method_name(*args, **kwargs)`` (an @job method);
    ``options``: those of ``with_delay()``. Returns the queue.job record."""
    options = options or {}
    job_method = find_job(records, method_name)
    if run_now(records.env):
        return run_immediately(records, job_method, args, kwargs, options)
    values = job_values(records, job_method, args, kwargs, options)
    job_id = store.enqueue(records.env.cr, values)
    return records.env['queue.job'].browse(job_id)


def find_job(records, method_name):
    """The @job method ``method_name`` of the records' model; AttributeError
    for anything else."""
    try:
        return find_job_method(type(records), method_name)
    except LookupError:
        raise AttributeError(
            "%s.%s cannot be delayed: only methods decorated with @job "
            "(from odoo.addons.background_job import job) run as jobs"
            % (records._name, method_name)) from None


def run_now(env):
    return bool(env.context.get(RUN_NOW_CONTEXT_KEY)) or settings().run_now


def job_values(records, job_method, args, kwargs, options):
    """The row of a new job (keys of engine/job_row.py ENQUEUE_COLUMNS); raises TypeError,
    naming the argument, before anything is written."""
    env = records.env
    description = '%s.%s' % (records._name, job_method.__name__)
    args_json, kwargs_json = serialization.dumps_arguments(args, kwargs, description)
    context = {key: env.context[key] for key in CONTEXT_KEYS if key in env.context}
    max_retries = options.get('max_retries')
    return {
        'uuid': str(uuid.uuid4()),
        'name': options.get('description') or job_method.__doc__ and
        job_method.__doc__.strip().splitlines()[0] or description,
        'model_name': records._name,
        'method_name': job_method.__name__,
        'record_ids': json.dumps(records.ids),
        'args': args_json,
        'kwargs': kwargs_json,
        'context': json.dumps(context),
        'user_id': env.uid,
        'company_id': env.context.get('force_company') or env.user.company_id.id,
        'channel': options.get('channel') or job_method.channel,
        'priority': job_method.priority if options.get('priority') is None else options['priority'],
        'eta': to_eta(options.get('eta')),
        'state': states.PENDING,
        'max_retries': job_method.retry_policy.max_retries if max_retries is None else max_retries,
        'timeout': job_timeout(job_method, options),
        'identity_key': identity.resolve(options.get('identity_key'), lambda: identity.JobCall(
            records._name, job_method.__name__, records, tuple(args), dict(kwargs))),
        'parent_id': None,
    }


def job_timeout(job_method, options):
    """The time limit stored with a job: with_delay(timeout=), else
    @job(timeout=), else None (the server's); 0: no limit."""
    timeout = options.get('timeout')
    return job_method.timeout if timeout is None else timeout


def to_eta(eta):
    """None, seconds from now, or a datetime/date -> UTC string or None."""
    if eta is None or eta is False:
        return None
    if isinstance(eta, (int, float)) and not isinstance(eta, bool):
        eta = datetime.datetime.utcnow() + datetime.timedelta(seconds=eta)
    if isinstance(eta, datetime.datetime):
        if eta.tzinfo is not None:
            eta = eta.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return fields.Datetime.to_string(eta)
    if isinstance(eta, datetime.date):
        return fields.Date.to_string(eta) + ' 00:00:00'
    if isinstance(eta, str):
        return fields.Datetime.to_string(fields.Datetime.from_string(eta))
    raise TypeError('eta must be a datetime, a date or a number of seconds, not %r' % (eta,))


def run_immediately(records, job_method, args, kwargs, options):
    """run_now mode: write the job as delay() does, then run it at once in
    the caller's transaction, as the caller, with a worker's outcomes
    (executor.perform_now): the returned job is done; a failure is recorded
    as a worker records it, then its exception propagates."""
    values = job_values(records, job_method, args, kwargs, options)  # validates args
    values['identity_key'] = None  # it runs now: no later delay() waits for it
    job = records.env['queue.job'].browse(store.enqueue(records.env.cr, values))
    executor.perform_now(records.env, job, lambda _job: job_method.func(records, *args, **kwargs))
    return job
