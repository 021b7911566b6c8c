"""Let pytest import this checkout as ``odoo.addons.background_job``.

pytest-odoo derives the addon's module name from the folder name, and a
clone may be named anything (``main``, ``background_job-ci`` ...). Odoo
loads the addon through the ``background_job`` link that setup puts in the
addons path; tests must import the very same modules, so their names are
fixed here, before pytest-odoo's own renaming sees them.
"""
import os

import _pytest.pathlib

ADDON = 'background_job'
CHECKOUT = os.path.dirname(os.path.abspath(__file__))
_resolve = _pytest.pathlib.resolve_pkg_root_and_module_name


def addon_module_name(path):
    """``odoo.addons.background_job.<dotted path>`` for a file of this
    checkout whose folders are packages up to the checkout (which may be
    named anything, even an invalid identifier); else None."""
    relative = os.path.relpath(os.path.abspath(str(path)), CHECKOUT)
    if relative.startswith('..'):
        return None
    parts = relative[:-len('.py')].split(os.sep) if relative.endswith('.py') else None
    if not parts:
        return None
    folder = CHECKOUT
    for part in parts[:-1]:
        folder = os.path.join(folder, part)
        if not os.path.exists(os.path.join(folder, '__init__.py')):
            return None
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join(['odoo.addons', ADDON] + parts)


def resolve_pkg_root_and_module_name(path, *args, **kwargs):
    # before pytest's own resolution: it refuses a folder name that is not
    # an identifier (a clone in ``fresh-check``, say)
    module_name = addon_module_name(path)
    if module_name:
        return os.path.dirname(CHECKOUT), module_name
    return _resolve(path, *args, **kwargs)


_pytest.pathlib.resolve_pkg_root_and_module_name = resolve_pkg_root_and_module_name
