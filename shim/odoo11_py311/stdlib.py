"""Standard-library names that Odoo 11 uses and Python 3.9-3.11 removed."""
import base64
import collections
import collections.abc
import inspect

# Removed from ``collections`` in 3.10; odoo.tools.misc imports them at
# module level (``from collections import Mapping`` ...).
ABC_ALIASES = (
    'Awaitable', 'Callable', 'Container', 'Coroutine', 'Hashable', 'ItemsView',
    'Iterable', 'Iterator', 'KeysView', 'Mapping', 'MappingView',
    'MutableMapping', 'MutableSequence', 'MutableSet', 'Sequence', 'Set',
    'Sized', 'ValuesView',
)

# odoo.http reads ``.args`` of the result, odoo.api unpacks four fields:
# the shape of the removed ``inspect.getargspec``.
ArgSpec = collections.namedtuple('ArgSpec', 'args varargs keywords defaults')


def getargspec(func):
    """The removed ``inspect.getargspec``, built on ``getfullargspec``."""
    spec = inspect.getfullargspec(func)
    return ArgSpec(spec.args, spec.varargs, spec.varkw, spec.defaults)


def formatargspec(args, varargs=None, varkw=None, defaults=None):
    """The removed ``inspect.formatargspec`` for the positional form that
    odoo.tools.cache uses to generate its key lambdas: ``(a, b=..., *c, **d)``.
    Defaults are rendered as ``=<repr>`` like the original did."""
    parts = []
    first_default = len(args) - len(defaults or ())
    for index, name in enumerate(args):
        if defaults and index >= first_default:
            parts.append('%s=%r' % (name, defaults[index - first_default]))
        else:
            parts.append(name)
    if varargs:
        parts.append('*' + varargs)
    if varkw:
        parts.append('**' + varkw)
    return '(' + ', '.join(parts) + ')'


def install(skip=frozenset()) -> None:
    if 'collections_abc' not in skip:
        for name in ABC_ALIASES:
            if not hasattr(collections, name):
                setattr(collections, name, getattr(collections.abc, name))
    if 'getargspec' not in skip and not hasattr(inspect, 'getargspec'):
        inspect.getargspec = getargspec
    if 'formatargspec' not in skip and not hasattr(inspect, 'formatargspec'):
        inspect.formatargspec = formatargspec
    # Removed in 3.9; same functions under their new names.
    if 'base64' not in skip and not hasattr(base64, 'encodestring'):
        base64.encodestring = base64.encodebytes
        base64.decodestring = base64.decodebytes
