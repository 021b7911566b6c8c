"""Odoo 11 of the peers' virtualenv: a configuration file per system, its
database, and the registry the benchmark enqueues from.

Every system gets the same Odoo, the same PostgreSQL (the product's
``odoo.conf`` connection) and the same addons of ``bench/peers/addons``;
only OCA's configuration has ``oca-addons`` (queue_job and what it needs)
in its addons path.
"""
import configparser
import contextlib
import os
import subprocess
import sys

from . import venv

sys.path.insert(0, os.path.join(venv.ROOT, 'scripts'))
import ensure_db  # noqa: E402

OUTPUT = os.path.join(venv.ROOT, 'test-output', 'bench-peers')
MODEL = 'peers.bench.record'
# ORM jobs work on blocks of 100 records (peers_bench/models.py, BLOCK_SIZE);
# 16 blocks: the 4 jobs running at once never write the same rows.
BLOCKS = 16
FILL = ("INSERT INTO peers_bench_record (name, value, block) "
        "SELECT 'record ' || n, 0, n / 100 FROM generate_series(0, %s * 100 - 1) AS n")


def write_config(name, db, extra_addons=(), sections=None):
    """``test-output/bench-peers/NAME.conf`` for database ``db``; its path."""
    import odoo
    options = ensure_db.config_options()
    parser = configparser.ConfigParser(interpolation=None)
    parser['options'] = {
        'addons_path': ','.join([os.path.join(os.path.dirname(odoo.__file__), 'addons'),
                                 venv.OWN_ADDONS, venv.BENCH_ADDONS] + list(extra_addons)),
        'data_dir': os.path.join(venv.VENV, 'data'),
        'db_host': options['db_host'], 'db_port': options['db_port'],
        'db_user': options['db_user'], 'db_password': options['db_password'],
        'db_name': db, 'dbfilter': '^%s$' % db, 'list_db': 'False',
        'http_interface': '127.0.0.1', 'max_cron_threads': '0', 'workers': '0',
        'without_demo': 'all',
    }
    parser.read_dict(sections or {})
    os.makedirs(OUTPUT, exist_ok=True)
    path = os.path.join(OUTPUT, name + '.conf')
    with open(path, 'w') as handle:
        parser.write(handle)
    return path


def addons_path(config):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(config)
    return parser['options']['addons_path']


def build_database(config, db, modules):
    """A new database ``db`` with ``modules`` installed and the benchmark's
    records; RuntimeError with Odoo's last error line when it fails."""
    ensure_db.drop(db, force=True)
    log = os.path.join(OUTPUT, db + '-install.log')
    with contextlib.suppress(FileNotFoundError):
        os.remove(log)
    result = subprocess.run(
        [venv.ODOO, '-c', config, '-d', db, '-i', modules, '--stop-after-init',
         '--log-level=warn', '--logfile=' + log], cwd=venv.ROOT, capture_output=True, text=True)
    errors = [line for line in _read(log).splitlines() if ' ERROR ' in line or 'Error' in line]
    if result.returncode != 0 or not is_installed(db, modules):
        raise RuntimeError('cannot install %s: %s' % (modules, (
            errors or (result.stderr or 'no log').strip().splitlines() or ['?'])[-1][:300]))
    import psycopg2
    connection = psycopg2.connect(dbname=db, **ensure_db.db_params())
    with connection, connection.cursor() as cr:
        cr.execute(FILL, (BLOCKS,))
    connection.close()


def is_installed(db, modules):
    import psycopg2
    try:
        connection = psycopg2.connect(dbname=db, **ensure_db.db_params())
    except psycopg2.OperationalError:
        return False
    with connection, connection.cursor() as cr:
        cr.execute("SELECT count(*) FROM ir_module_module WHERE state = 'installed' "
                   "AND name = ANY(%s)", (modules.split(','),))
        installed = cr.fetchone()[0]
    connection.close()
    return installed == len(modules.split(','))


def _read(path):
    try:
        with open(path, errors='replace') as handle:
            return handle.read()
    except FileNotFoundError:
        return ''


class OdooClient:
    """This process's Odoo registry of ``db``, loaded once: the benchmark's
    caller side (delay(), with_delay(), or the task's arguments)."""

    def __init__(self, config, db):
        import odoo
        odoo.tools.config.parse_config(['-c', config, '-d', db, '--log-level=warn'])
        self.registry = odoo.registry(db)
        with self.environment() as env:
            self.record_id = env[MODEL].search([], limit=1, order='id').id

    @contextlib.contextmanager
    def environment(self):
        """A superuser environment on a new cursor, committed on exit."""
        from odoo import SUPERUSER_ID, api
        with api.Environment.manage(), self.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {})

    @contextlib.contextmanager
    def records(self):
        """The record the benchmark's jobs are called on, in a new
        transaction committed on exit."""
        with self.environment() as env:
            yield env[MODEL].browse(self.record_id)
