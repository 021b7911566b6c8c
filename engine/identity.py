"""Identity keys computed from the call: ``with_delay(identity_key=f)``
where ``f(call)`` returns the key, e.g. :func:`identity_exact`.

OCA queue_job passes its ``Job`` to such a function; a :class:`JobCall`
offers the attributes those functions read (``model_name``,
``method_name``, ``recordset``, ``args``, ``kwargs``), so identity
functions written for OCA work unchanged. Pure Python, no Odoo import.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union


@dataclass(frozen=True)
class JobCall:
    """The call a new job will make, as an identity function sees it."""
    model_name: str
    method_name: str
    recordset: Any
    args: tuple
    kwargs: dict


def identity_exact(call: JobCall) -> str:
    """A key equal for equal calls: same model, method, record ids (in any
    order) and arguments. The digest is the one OCA queue_job's
    ``identity_exact`` gives for the same call, so a job migrated from OCA
    and a new call with ``identity_exact`` share their key."""
    digest = hashlib.sha1()
    for part in (call.model_name, call.method_name, str(sorted(call.recordset.ids)),
                 str(tuple(call.args)), str(sorted(call.kwargs.items()))):
        digest.update(part.encode('utf-8'))
    return digest.hexdigest()


IdentityKey = Union[None, str, Callable[[JobCall], Optional[str]]]


def resolve(identity_key: IdentityKey, call: Callable[[], JobCall]) -> Optional[str]:
    """The key a new job is stored with: ``identity_key`` itself when it is
    a string, what it returns when it is a function (``call()`` builds its
    argument), None without one. ValueError for anything else."""
    if callable(identity_key):
        identity_key = identity_key(call())
        if identity_key is not None and not isinstance(identity_key, str):
            raise ValueError('an identity_key function must return a str or None, got %r'
                             % (identity_key,))
    if identity_key is None or identity_key is False or identity_key == '':
        return None
    if not isinstance(identity_key, str):
        raise ValueError('identity_key must be a str or a function of the call '
                         '(e.g. identity_exact), got %r' % (identity_key,))
    return identity_key
