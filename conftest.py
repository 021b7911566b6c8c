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


def resolve_pkg_root_and_module_name(path, *args, **kwargs):
    pkg_root, module_name = _resolve(path, *args, **kwargs)
    # pytest named the module after the checkout's folder when the package
    # chain reaches the checkout root (which has an __init__.py).
    root_package = os.path.basename(CHECKOUT)
    if module_name == root_package or module_name.startswith(root_package + '.'):
        module_name = 'odoo.addons.' + ADDON + module_name[len(root_package):]
    return pkg_root, module_name


_pytest.pathlib.resolve_pkg_root_and_module_name = resolve_pkg_root_and_module_name
