"""The ``[background_job]`` section of the Odoo config file (odoo.conf),
parsed in this one place into ``engine.settings.Settings``.

Every reader calls ``settings()``; the options are documented in the
``odoo.conf`` that ``scripts/make_config.py`` writes.
"""
from odoo.tools import config

from ..engine.settings import Settings

ADDON = 'background_job'

TRUE = ('1', 'true', 'yes')
FALSE = ('0', 'false', 'no')


def options():
    """The raw section: option name -> text, as Odoo read it."""
    return config.misc.get(ADDON, {})


def whole(text):
    number = int(text)
    if number < 0:
        raise ValueError('negative')
    return number


def seconds(text):
    number = float(text)
    if not number >= 0:  # also refuses nan
        raise ValueError('negative or not a number')
    return number


def positive_seconds(text):
    number = seconds(text)
    if number == 0:
        raise ValueError('zero')
    return number


def boolean(text):
    word = text.lower()
    if word not in TRUE + FALSE:
        raise ValueError('neither of %s' % '/'.join(TRUE + FALSE))
    return word in TRUE


def names(text):
    """``a, b,c`` -> ('a', 'b', 'c')."""
    return tuple(name.strip() for name in text.split(',') if name.strip())


def capacities(text):
    """``root:0, root.mail:2`` -> {'root': 0, 'root.mail': 2} (no number: 0)."""
    found = {}
    for item in names(text):
        name, _, capacity = item.partition(':')
        if name.strip():
            found[name.strip()] = whole(capacity or 0)
    return found


# option -> (how its text is read, what it must be: for the error message)
PARSERS = {
    'threads': (whole, 'a whole number >= 0'),
    'processes': (whole, 'a whole number >= 0'),
    'databases': (names, 'database names, comma separated'),
    'database_refresh': (positive_seconds, 'seconds > 0'),
    'channels': (capacities, 'name:capacity,... with whole capacities >= 0'),
    'dead_after': (positive_seconds, 'seconds > 0'),
    'network_timeout': (whole, 'whole seconds >= 0 (0: the system\'s TCP defaults)'),
    'timeout': (whole, 'whole seconds >= 0 (0: no limit)'),
    'shutdown_timeout': (seconds, 'seconds >= 0'),
    'idle_close': (seconds, 'seconds >= 0'),
    'keep_days': (whole, 'a whole number of days >= 0'),
    'run_now': (boolean, 'true or false'),
    'metrics_token': (str, 'a token'),
}


def odoo_limits():
    """Odoo's memory limits (bytes; 0: none), which job processes honour."""
    return {'memory_soft': int(config['limit_memory_soft'] or 0),
            'memory_hard': int(config['limit_memory_hard'] or 0)}


def parse(section, limits=None):
    """The Settings of a section (option -> text); an option left empty
    keeps its default; ``limits``: Odoo's (odoo_limits). ValueError naming
    the option for a bad value."""
    values = dict(limits or {})
    for name, (parser, expected) in PARSERS.items():
        text = str(section.get(name) or '').strip()
        if not text:
            continue
        try:
            values[name] = parser(text)
        except ValueError as error:
            raise ValueError('[%s] %s = %r: must be %s (%s)'
                             % (ADDON, name, text, expected, error)) from None
    return Settings(**values)


_parsed = (None, None)  # (the section's items, their Settings)


def settings():
    """The settings of the config file, parsed again only when the section
    changed (delay() reads run_now on every call)."""
    global _parsed
    # what the settings are made of, compared cheaply (delay() calls this)
    items = (tuple(options().items()), config['limit_memory_soft'],
             config['limit_memory_hard'])
    if items != _parsed[0]:
        _parsed = (items, parse(options(), odoo_limits()))
    return _parsed[1]

