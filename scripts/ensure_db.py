"""Create, update or reuse a database with the addon installed.

``ensure_db.py NAME [--demo]``: the database is rebuilt when the addon's
source changed since it was made (a hash of the addon's files is kept in a
table of that database), so tests start fast when nothing changed and never
run on a stale schema.
"""
import hashlib
import os
import subprocess
import sys

import psycopg2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ODOO = os.path.join(ROOT, '.venv', 'bin', 'odoo')
CONFIG = os.path.join(ROOT, 'odoo.conf')
# What installing the addon reads; tests and tooling do not change the schema.
SOURCE_DIRS = ('models', 'data', 'views', 'security', 'engine', 'demo', 'static')
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


def db_params():
    import configparser
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    options = parser['options']
    return dict(host=options['db_host'], port=options['db_port'],
                user=options['db_user'], password=options['db_password'])


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


def drop(name):
    connection = psycopg2.connect(dbname='postgres', **db_params())
    connection.autocommit = True
    with connection.cursor() as cr:
        cr.execute('DROP DATABASE IF EXISTS "%s"' % name)
    connection.close()


def main():
    name = sys.argv[1]
    demo = '--demo' in sys.argv
    wanted = source_hash()
    if stored_hash(name) == wanted:
        print('database %s is up to date' % name)
        return
    print('building database %s (addon installed%s) ...' % (name, ', with demo data' if demo else ''))
    drop(name)
    command = [ODOO, '-c', CONFIG, '-d', name, '-i', 'background_job',
               '--stop-after-init', '--log-level=warn', '--db-filter=^%s$' % name]
    if not demo:
        command.append('--without-demo=all')
    env = dict(os.environ, PATH=os.path.dirname(ODOO) + os.pathsep + os.environ.get('PATH', ''))
    # No job threads while installing: the addon's threads start only in a
    # real server.
    subprocess.run(command, check=True, env=env)
    store_hash(name, wanted)


if __name__ == '__main__':
    main()
