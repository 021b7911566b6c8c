"""What ``@job`` records about a model method: the function and its job
defaults; and which method of a model may run from a queue row.

Pure Python: the decorator itself, and ``delay()``, are on the Odoo side
(service/decorator.py).
"""
from __future__ import annotations

import functools
from typing import Callable, Mapping, Optional

from . import defaults
from .retry import RetryPolicy
from .watchdog import check_timeout


class JobMethod:
    """A model method marked with ``@job``. Workers only run methods that
    are ``JobMethod``s (see :func:`find_job_method`)."""

    def __init__(self, func: Callable, channel: str = defaults.CHANNEL,
                 priority: int = defaults.PRIORITY, max_retries: int = defaults.MAX_RETRIES,
                 retry_pattern: Optional[Mapping] = None,
                 timeout: Optional[int] = None):
        if not callable(func):
            raise TypeError('@job decorates a method, got %r' % (func,))
        self.func = func
        self.channel = channel
        self.priority = priority
        self.retry_policy = RetryPolicy.from_config(max_retries, retry_pattern)
        self.timeout = check_timeout(timeout, '@job(timeout=)')
        # Odoo's model metaclass treats a method with _api = None as a
        # plain multi-record method (and leaves it unwrapped).
        self._api = None
        functools.update_wrapper(self, func)

    def __call__(self, records, *args, **kwargs):
        return self.func(records, *args, **kwargs)

    def __repr__(self):
        return '<job %s>' % self.func.__qualname__


# The queue.job method a job's form button calls when its method names none
# with @related_action (OCA queue_job's default: open the job's records).
DEFAULT_RELATED_ACTION = 'related_action_open_record'
# Where @related_action leaves its (action, kwargs) on the function or on
# the JobMethod: @job copies the function's attributes, so either order of
# the two decorators works.
_RELATED_ACTION = '_background_job_related_action'


def related_action(action: Optional[str] = None, **kwargs):
    """``@related_action(action='queue_job_method', key=value)``: the job
    form's button calls ``job.queue_job_method(key=value)`` and opens the
    action it returns; ``@related_action()`` (no action): no button."""
    if action is not None and not isinstance(action, str):
        raise ValueError("@related_action takes the name of a queue.job method, e.g. "
                         "@related_action(action='related_action_partner'), got %r" % (action,))

    def mark(method):
        setattr(method, _RELATED_ACTION, (action, dict(kwargs)))
        return method
    return mark


def related_action_of(job_method: JobMethod) -> Optional[tuple]:
    """``(queue.job method name, its kwargs)`` of a job method's related
    action, the default one when it declares none; None when disabled."""
    action, kwargs = getattr(job_method, _RELATED_ACTION, (DEFAULT_RELATED_ACTION, {}))
    return None if action is None else (action, dict(kwargs))


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
