"""``@job``: mark a model method as runnable in the background.

The decorator is thin (as in RQ): it records the job's defaults (a
JobMethod, engine/job_method.py) and gives the method a ``delay()`` that
forwards to the one enqueue function, ``enqueue.delay``. A plain call still
runs the method synchronously.
"""
from typing import Callable, Mapping, Optional

from ..engine import defaults
from ..engine.job_method import JobMethod
from . import enqueue


class DelayableJobMethod(JobMethod):
    """A descriptor: ``records.method`` gives a :class:`BoundJobMethod`,
    which runs the method when called and enqueues it with ``.delay()``."""

    def __get__(self, records, owner=None):
        if records is None:
            return self
        return BoundJobMethod(self, records)


class BoundJobMethod:
    """``records.method``: call it to run now, ``.delay()`` to run later."""

    __slots__ = ('job_method', 'records')

    def __init__(self, job_method: JobMethod, records):
        self.job_method = job_method
        self.records = records

    def __call__(self, *args, **kwargs):
        return self.job_method.func(self.records, *args, **kwargs)

    def delay(self, *args, **kwargs):
        """Enqueue this call with the job's defaults; returns the queue.job record."""
        return enqueue.delay(self.records, self.job_method.__name__, args, kwargs)

    def delay_batch(self, *args, job_size=defaults.JOB_SIZE, done_method=None,
                    job_res_id=None, channel=None, priority=None, **kwargs):
        """Split the records into child jobs of ``job_size`` ids under one batch."""
        return self.records.env['queue.job']._batch_execute_job(
            self.records._name, self.job_method.__name__, self.records.ids,
            done_method=done_method, job_size=job_size, job_res_id=job_res_id,
            args=args, kwargs=kwargs, channel=channel, priority=priority)

    @property
    def __name__(self):
        return self.job_method.__name__

    def __repr__(self):
        return '<bound job %s of %r>' % (self.job_method.__name__, self.records)


def job(func: Optional[Callable] = None, *, channel: Optional[str] = None,
        priority: int = defaults.PRIORITY, max_retries: int = defaults.MAX_RETRIES,
        retry_pattern: Optional[Mapping] = None, timeout: Optional[int] = None,
        default_channel: Optional[str] = None):
    """Mark a model method as a job: ``@job`` or ``@job(channel='root.mail', ...)``.

    ``max_retries``: failures retried before the job fails (0: never);
    ``retry_pattern``: ``{retry count: seconds}`` backoff steps;
    ``timeout``: the job's time limit, wall clock, in whole seconds (0: none;
    default: the server's ``[background_job] timeout``); at the limit its
    transaction is ended and it fails with JobTimeoutError.
    ``default_channel``: OCA queue_job's name of ``channel``.
    """
    options = dict(channel=_channel(channel, default_channel), priority=priority,
                   max_retries=max_retries, retry_pattern=retry_pattern, timeout=timeout)
    if func is None:
        return lambda f: DelayableJobMethod(f, **options)
    return DelayableJobMethod(func, **options)


def _channel(channel, default_channel):
    """The one channel of ``channel=`` and OCA's ``default_channel=``."""
    if channel and default_channel and channel != default_channel:
        raise ValueError('@job got channel=%r and default_channel=%r: give one of them'
                         % (channel, default_channel))
    return channel or default_channel or defaults.CHANNEL
