"""``@job``: mark a model method as runnable in the background.

The decorator is thin (as in RQ): it records the job's defaults and gives the
method a ``delay()`` that forwards to one enqueue function. A plain call
still runs the method synchronously.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, Optional

from .retry import RetryPolicy

DEFAULT_CHANNEL = 'root'
DEFAULT_PRIORITY = 10


class JobMethod:
    """A model method marked with ``@job``.

    A descriptor: ``records.method`` gives a :class:`BoundJobMethod`, which
    runs the method when called and enqueues it with ``.delay()``. Workers
    only run methods that are ``JobMethod``s (see :func:`find_job_method`).
    """

    def __init__(self, func: Callable, channel: str = DEFAULT_CHANNEL,
                 priority: int = DEFAULT_PRIORITY, max_retries: int = 5,
                 retry_pattern: Optional[Mapping] = None,
                 timeout: Optional[int] = None):
        if not callable(func):
            raise TypeError('@job decorates a method, got %r' % (func,))
        self.func = func
        self.channel = channel
        self.priority = priority
        self.retry_policy = RetryPolicy.from_config(max_retries, retry_pattern)
        self.timeout = timeout
        # Odoo's model metaclass treats a method with _api = None as a
        # plain multi-record method (and leaves it unwrapped).
        self._api = None
        functools.update_wrapper(self, func)

    def __get__(self, records, owner=None):
        if records is None:
            return self
        return BoundJobMethod(self, records)

    def __call__(self, records, *args, **kwargs):
        return self.func(records, *args, **kwargs)

    def __repr__(self):
        return '<job %s>' % self.func.__qualname__


class BoundJobMethod:
    """``records.method``: call it to run now, ``.delay()`` to run later."""

    __slots__ = ('job_method', 'records')

    def __init__(self, job_method: JobMethod, records: Any):
        self.job_method = job_method
        self.records = records

    def __call__(self, *args, **kwargs):
        return self.job_method.func(self.records, *args, **kwargs)

    def delay(self, *args, **kwargs):
        """Enqueue this call with the job's defaults; returns the queue.job record."""
        return self.records.with_delay()._enqueue_call(self.job_method.__name__, args, kwargs)

    def delay_batch(self, *args, job_size=100, done_method=None, job_res_id=None,
                    channel=None, priority=None, **kwargs):
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


def job(func: Optional[Callable] = None, *, channel: str = DEFAULT_CHANNEL,
        priority: int = DEFAULT_PRIORITY, max_retries: int = 5,
        retry_pattern: Optional[Mapping] = None, timeout: Optional[int] = None):
    """Mark a model method as a job: ``@job`` or ``@job(channel='root.mail', ...)``.

    ``max_retries``: failures retried before the job fails (0: never);
    ``retry_pattern``: ``{retry count: seconds}`` backoff steps;
    ``timeout``: seconds before PostgreSQL cancels the job's statements.
    """
    options = dict(channel=channel, priority=priority, max_retries=max_retries,
                   retry_pattern=retry_pattern, timeout=timeout)
    if func is None:
        return lambda f: JobMethod(f, **options)
    return JobMethod(func, **options)


def find_job_method(model_class: type, name: str) -> JobMethod:
    """The ``@job`` method ``name`` of a model class, or ``LookupError``.

    The method in force is the first definition along the MRO; it must be a
    JobMethod itself: an override that drops ``@job`` stops being a job, so
    nothing undecorated can ever run from a queue row.
    """
    for klass in model_class.__mro__:
        if name in klass.__dict__:
            attribute = klass.__dict__[name]
            if isinstance(attribute, JobMethod):
                return attribute
            break
    raise LookupError(name)
