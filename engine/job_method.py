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
from .store import channels, lock_keys


class JobMethod:
    """A model method marked with ``@job``. Workers only run methods that
    are ``JobMethod``s (see :func:`find_job_method`)."""

    def __init__(self, func: Callable, channel: str = defaults.CHANNEL,
                 priority: int = defaults.PRIORITY, max_retries: int = defaults.MAX_RETRIES,
                 retry_pattern: Optional[Mapping] = None,
                 timeout: Optional[int] = None, lock_key: Optional[str] = None):
        if not callable(func):
            raise TypeError('@job decorates a method, got %r' % (func,))
        self.func = func
        self.channel = channels.check_name(channel)
        self.priority = priority
        self.retry_policy = RetryPolicy.from_config(max_retries, retry_pattern)
        self.timeout = timeout
        # every job of the method with this key: one at a time
        self.lock_key = lock_keys.check(lock_key)
        # Odoo's model metaclass treats a method with _api = None as a
        # plain multi-record method (and leaves it unwrapped).
        self._api = None
        functools.update_wrapper(self, func)

    def __call__(self, records, *args, **kwargs):
        return self.func(records, *args, **kwargs)

    def __repr__(self):
        return '<job %s>' % self.func.__qualname__


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
