"""Run Odoo 11 (written for Python 3.5-3.7) on Python 3.11.

This package is the only place in the project that knows about the version
gap. ``install()`` is called at interpreter start by the ``.pth`` file that
``scripts/setup.sh`` writes into the virtualenv, so the Odoo server, pytest
and ``python -c`` all get the same fixes. No installed Odoo file is edited:

* standard-library names that Python removed are put back at start-up
  (:mod:`.stdlib`);
* Odoo modules that need a fix are patched right after they are imported,
  through an import hook (:mod:`.odoo_fixes`), so nothing imports Odoo early.
"""
import os

from . import odoo_fixes, stdlib

_installed = False


def skipped_fixes() -> frozenset:
    """Fix names listed in ODOO11_PY311_SKIP (comma separated). Only the
    shim's own tests set it, to prove each fix is needed."""
    return frozenset(filter(None, os.environ.get('ODOO11_PY311_SKIP', '').split(',')))


def install() -> None:
    """Apply every fix once; safe to call again."""
    global _installed
    if _installed:
        return
    skip = skipped_fixes()
    stdlib.install(skip)
    odoo_fixes.install(skip)
    _installed = True
