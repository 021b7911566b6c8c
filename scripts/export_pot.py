"""Regenerate ``i18n/background_job.pot`` from a database with the addon
installed, with Odoo's own exporter (``odoo.tools.trans_export``, what
``odoo --i18n-export`` runs): the terms of menus, views, fields, selections,
``_()`` in Python and ``_t()`` in the web client's JavaScript.

``export_pot.py DB [OUT]``, or ``make pot`` (which builds the database first).
tests/test_i18n.py exports the same way and checks i18n/zh_CN.po against it.
"""
import contextlib
import io
import os
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, 'odoo.conf')
POT = os.path.join(ROOT, 'i18n', 'background_job.pot')
MODULE = 'background_job'
# Not part of the installed addon: the exporter would read their _() calls
# as the addon's (tests/addons holds another addon), and .venv links back to
# this checkout, which Odoo's exporter (it follows links) walks forever.
NOT_ADDON = {'.git', '.venv', '.ci', 'bench', 'scripts', 'shim', 'test-output', 'tests'}


@contextlib.contextmanager
def addon_source_only():
    """Odoo's exporter walks every addons path for _() terms; for the time of
    the block its addons path is a folder holding only this addon's source."""
    import odoo
    folder = tempfile.mkdtemp(prefix='bj-pot-')
    addon = os.path.join(folder, MODULE)
    os.mkdir(addon)
    for entry in sorted(set(os.listdir(ROOT)) - NOT_ADDON):
        os.symlink(os.path.join(ROOT, entry), os.path.join(addon, entry))
    paths = odoo.modules.module.ad_paths
    saved = list(paths)
    paths[:] = [folder]
    try:
        yield
    finally:
        paths[:] = saved
        shutil.rmtree(folder)


def export(cr):
    """The addon's translation template (bytes), read from ``cr``'s database."""
    import odoo
    buffer = io.BytesIO()
    with addon_source_only():
        odoo.tools.trans_export(None, [MODULE], buffer, 'po', cr)
    return buffer.getvalue()


def main():
    name = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else POT
    import odoo
    odoo.tools.config.parse_config(['-c', CONFIG, '-d', name, '--log-level=warn'])
    registry = odoo.modules.registry.Registry.new(name)
    with odoo.api.Environment.manage(), registry.cursor() as cr:
        content = export(cr)
    with open(out, 'wb') as handle:
        handle.write(content)
    print('wrote %s (%d terms)' % (os.path.relpath(out, ROOT), content.count(b'\nmsgid ') - 1))


if __name__ == '__main__':
    main()
