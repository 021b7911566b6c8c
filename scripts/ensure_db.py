"""Create, update or reuse a database with the addon installed.

``ensure_db.py NAME [--demo]``: the database is rebuilt when the addon's
source changed since it was made (a hash of the addon's files is kept in a
table of that database), or when another checkout built it (its filestore
is in that checkout's data_dir), so tests start fast when nothing changed
and never run on a stale schema or without their attachments.

Each build also refreshes ``NAME_template``: a copy of the database and of
its filestore that nobody may connect to (``ALLOW_CONNECTIONS false``), so
that tests can clone it with ``CREATE DATABASE ... TEMPLATE`` while a test
session holds connections to ``NAME`` itself. Its source hash is kept as the
database's comment.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import time

import psycopg2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ODOO = os.path.join(ROOT, '.venv', 'bin', 'odoo')
CONFIG = os.path.join(ROOT, 'odoo.conf')
# What installing the addon reads; tests and tooling do not change the schema.
SOURCE_DIRS = ('models', 'data', 'views', 'security', 'engine', 'demo', 'static',
               'tests/addons')
SOURCE_FILES = ('__manifest__.py', '__init__.py', 'requirements.txt', 'requirements-odoo.txt')


def source_hash():
    digest = hashlib.sha1()
    paths = [os.path.join(ROOT, name) for name in SOURCE_FILES]
    for folder in SOURCE_DIRS:
        for base, dirs, files in os.walk(os.path.join(ROOT, folder)):
            dirs[:] = sorted(d for d in dirs if d != '__pycache__')
            paths += [os.path.join(base, f) for f in sorted(files) if not f.endswith('.pyc')]
    for path in paths:
        if os.path.exists(path):
            digest.update(os.path.relpath(path, ROOT).encode())
            with open(path, 'rb') as handle:
                digest.update(handle.read())
    return digest.hexdigest()


def config_options():
    """The ``[options]`` section of odoo.conf."""
    import configparser
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    return parser['options']


def db_params():
    options = config_options()
    return dict(host=options['db_host'], port=options['db_port'],
                user=options['db_user'], password=options['db_password'])


def filestore(name):
    """Folder of the database's attachments (Odoo: data_dir/filestore/NAME)."""
    data_dir = config_options().get('data_dir') or os.path.expanduser('~/.local/share/Odoo')
    return os.path.join(data_dir, 'filestore', name)


def template_name(name):
    return name + '_template'


def connect_maintenance():
    """An autocommit connection to the ``postgres`` database, for CREATE and
    DROP DATABASE."""
    connection = psycopg2.connect(dbname='postgres', **db_params())
    connection.autocommit = True
    return connection


def stored_hash(name):
    try:
        connection = psycopg2.connect(dbname=name, **db_params())
    except psycopg2.OperationalError:
        return None  # no such database
    try:
        with connection.cursor() as cr:
            cr.execute("SELECT to_regclass('background_job_build')")
            if cr.fetchone()[0] is None:
                return None
            cr.execute('SELECT source_hash FROM background_job_build')
            row = cr.fetchone()
            return row and row[0]
    finally:
        connection.close()


def store_hash(name, value):
    connection = psycopg2.connect(dbname=name, **db_params())
    with connection, connection.cursor() as cr:
        cr.execute('CREATE TABLE IF NOT EXISTS background_job_build (source_hash varchar)')
        cr.execute('DELETE FROM background_job_build')
        cr.execute('INSERT INTO background_job_build VALUES (%s)', (value,))
    connection.close()


def drop(name, force=False):
    """Drop the database and its filestore. ``force`` ends the sessions still
    connected to it (only for throwaway databases)."""
    connection = connect_maintenance()
    try:
        with connection.cursor() as cr:
            option = ' WITH (FORCE)' if force and connection.server_version >= 130000 else ''
            cr.execute('DROP DATABASE IF EXISTS "%s"%s' % (name, option))
    finally:
        connection.close()
    shutil.rmtree(filestore(name), ignore_errors=True)


def copy(source, target, timeout=120):
    """Create the database ``target`` as a copy of ``source``, with a copy of
    its filestore (hard links: Odoo never rewrites a stored file in place).

    PostgreSQL refuses while anyone is connected to ``source``; that is
    retried for ``timeout`` seconds (another session may be just leaving)."""
    deadline = time.monotonic() + timeout
    connection = connect_maintenance()
    try:
        with connection.cursor() as cr:
            while True:
                try:
                    cr.execute('CREATE DATABASE "%s" TEMPLATE "%s"' % (target, source))
                    break
                except psycopg2.errors.ObjectInUse as error:
                    if time.monotonic() > deadline:
                        raise RuntimeError('cannot copy database %s: it stayed in use for %ss (%s)'
                                           % (source, timeout, str(error).strip())) from error
                    time.sleep(0.5)
    finally:
        connection.close()
    target_files = filestore(target)
    shutil.rmtree(target_files, ignore_errors=True)
    if os.path.isdir(filestore(source)):
        shutil.copytree(filestore(source), target_files, copy_function=_link_or_copy)


def _link_or_copy(source, target):
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def template_hash(name):
    """Source hash the template of ``name`` was made from, None if none."""
    connection = connect_maintenance()
    try:
        with connection.cursor() as cr:
            cr.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database"
                       " WHERE datname = %s", (template_name(name),))
            row = cr.fetchone()
    finally:
        connection.close()
    return row and row[0]


def refresh_template(name, value):
    """(Re)make ``NAME_template`` from ``name`` and record ``value`` on it."""
    template = template_name(name)
    drop(template)
    copy(name, template)
    connection = connect_maintenance()
    try:
        with connection.cursor() as cr:
            cr.execute('ALTER DATABASE "%s" ALLOW_CONNECTIONS false' % template)
            cr.execute('COMMENT ON DATABASE "%s" IS %%s' % template, (value,))
    finally:
        connection.close()


def main():
    name = sys.argv[1]
    demo = '--demo' in sys.argv
    # The filestore lives in the checkout's data_dir: a database built from
    # another checkout has its attachments elsewhere, so it counts as stale.
    wanted = '%s %s' % (source_hash(), filestore(name))
    if stored_hash(name) == wanted:
        if template_hash(name) == wanted:
            print('database %s is up to date' % name)
        else:
            print('copying database %s to %s ...' % (name, template_name(name)))
            refresh_template(name, wanted)
        return
    print('building database %s (addon installed%s) ...' % (name, ', with demo data' if demo else ''))
    drop(name)
    modules = next((arg.split('=', 1)[1] for arg in sys.argv if arg.startswith('--install=')),
                   'background_job')
    command = [ODOO, '-c', CONFIG, '-d', name, '-i', modules,
               '--stop-after-init', '--log-level=warn', '--db-filter=^%s$' % name]
    if not demo:
        command.append('--without-demo=all')
    env = dict(os.environ, PATH=os.path.dirname(ODOO) + os.pathsep + os.environ.get('PATH', ''))
    # No job threads while installing: the addon's threads start only in a
    # real server.
    subprocess.run(command, check=True, env=env)
    # The hash last: a build or copy that stopped half-way is redone.
    refresh_template(name, wanted)
    store_hash(name, wanted)


if __name__ == '__main__':
    main()
