"""A throwaway PostgreSQL cluster for the fault tests that restart
PostgreSQL or reach it from a network namespace: the machine's own server
is never restarted nor reconfigured.

Helper module, no tests in it::

    cluster = pg_cluster.shared()            # started once per test session
    name = cluster.clone()                   # a database with the addon installed
    cluster.restart()                        # pg_ctl restart -m fast

The cluster (``initdb`` as the ``postgres`` system user: initdb refuses
root) lives in ``/tmp/bj-faults-pg-<pid>``, listens on 127.0.0.1 and a free
port (plus the addresses given to ``listen_on``), trusts its clients, has
Odoo's role, and a database restored from the test database (``make test``
builds it) that each test clones. It is stopped and removed when the test
session ends; one left by a test session that died is removed by the next.
"""
import atexit
import glob
import itertools
import os
import re
import shutil
import subprocess

import psycopg2

from odoo.addons.background_job.engine.worker import process_exists

from . import odoo_server

BIN = '/usr/lib/postgresql/15/bin'
PREFIX = '/tmp/bj-faults-pg-'
SYSTEM_USER = 'postgres'  # initdb and the server refuse to run as root
BASE_DB = 'bj_faults_base'

_shared = None
_clone_numbers = itertools.count(1)


def shared():
    """The session's cluster, started (and its base database made) once."""
    global _shared
    if _shared is None:
        remove_stale()
        cluster = Cluster(PREFIX + str(os.getpid()))
        atexit.register(cluster.remove)
        cluster.create()
        _shared = cluster
    return _shared


def remove_stale():
    """Stop and remove clusters of test sessions that died."""
    for path in glob.glob(PREFIX + '*'):
        match = re.match(re.escape(PREFIX) + r'(\d+)$', path)
        if match and not process_exists(int(match.group(1))):
            Cluster(path).remove()


class Cluster:

    def __init__(self, path):
        self.path = path
        self.data = os.path.join(path, 'data')
        self.logfile = os.path.join(path, 'postgresql.log')
        self.port = None
        self.params = odoo_server.ensure_db.db_params()  # Odoo's role, as in odoo.conf

    # -- life cycle
    def create(self):
        os.makedirs(self.path)
        shutil.chown(self.path, SYSTEM_USER)
        self._as_postgres(os.path.join(BIN, 'initdb'), '-D', self.data, '-U', 'postgres',
                          '--auth=trust', '-E', 'UTF8', '--no-sync')
        self.port = odoo_server.free_port()
        with open(os.path.join(self.data, 'postgresql.auto.conf'), 'a') as conf:
            conf.write("port = %d\nlisten_addresses = '127.0.0.1'\n"
                       "unix_socket_directories = '%s'\nfsync = off\n" % (self.port, self.path))
        with open(os.path.join(self.data, 'pg_hba.conf'), 'a') as hba:
            # the namespaces' veth addresses (tests/test_faults_lost_machine.py)
            hba.write('host all all 198.18.0.0/15 trust\n')
        self.pg_ctl('start')
        self.superuser_sql("CREATE ROLE %s LOGIN CREATEDB PASSWORD '%s'"
                           % (self.params['user'], self.params['password']))
        self._restore_test_database()

    def pg_ctl(self, action, *args):
        self._as_postgres(os.path.join(BIN, 'pg_ctl'), action, '-D', self.data, '-l',
                          self.logfile, '-w', '-t', '60', *args)

    def restart(self):
        """pg_ctl restart -m fast: every session is ended (as in a failover)."""
        self.pg_ctl('restart', '-m', 'fast')

    def listen_on(self, *addresses):
        """Listen on 127.0.0.1 and these addresses (a restart)."""
        self.superuser_sql("ALTER SYSTEM SET listen_addresses = '%s'"
                           % ','.join(('127.0.0.1',) + addresses))
        self.restart()

    def remove(self):
        if os.path.exists(os.path.join(self.data, 'postmaster.pid')):
            subprocess.run(['runuser', '-u', SYSTEM_USER, '--', os.path.join(BIN, 'pg_ctl'),
                            'stop', '-D', self.data, '-m', 'immediate', '-w'],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.path, ignore_errors=True)

    # -- databases
    def connect(self, dbname='postgres', host='127.0.0.1'):
        return psycopg2.connect(host=host, port=self.port, user=self.params['user'],
                                password=self.params['password'], dbname=dbname)

    def superuser_sql(self, statement):
        connection = psycopg2.connect(host='127.0.0.1', port=self.port, user='postgres',
                                      dbname='postgres')
        connection.autocommit = True
        try:
            with connection.cursor() as cr:
                cr.execute(statement)
        finally:
            connection.close()

    def clone(self):
        """A new database of the cluster with the addon and its test addon
        installed (a copy of the base database); its name."""
        name = 'bj_faults_%d' % next(_clone_numbers)
        self.superuser_sql('CREATE DATABASE %s TEMPLATE %s OWNER %s'
                           % (name, BASE_DB, self.params['user']))
        return name

    def _restore_test_database(self):
        """The base database: the test database (``make test`` built it,
        addon installed) dumped from the machine's server, restored here."""
        self.superuser_sql('CREATE DATABASE %s OWNER %s' % (BASE_DB, self.params['user']))
        env = dict(os.environ, PGPASSWORD=self.params['password'] or '')
        dump = subprocess.Popen(
            [os.path.join(BIN, 'pg_dump'), '-Fc', '-h', self.params['host'],
             '-p', str(self.params['port']), '-U', self.params['user'], odoo_server.TEST_DB],
            stdout=subprocess.PIPE, env=env)
        subprocess.run(
            [os.path.join(BIN, 'pg_restore'), '--no-owner', '--no-acl', '-h', '127.0.0.1',
             '-p', str(self.port), '-U', self.params['user'], '-d', BASE_DB],
            stdin=dump.stdout, env=env, check=True)
        dump.stdout.close()
        if dump.wait() != 0:
            raise RuntimeError('pg_dump of %s failed' % odoo_server.TEST_DB)

    def _as_postgres(self, *command):
        subprocess.run(('runuser', '-u', SYSTEM_USER, '--') + command, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    # -- Odoo
    def odoo_config(self, name, host='127.0.0.1', **job_options):
        """A copy of odoo.conf on this cluster (``host``: the address the
        server or worker reaches it at), [background_job] options replaced."""
        from .common import server_config
        return server_config(name, odoo_options={'db_host': host, 'db_port': self.port},
                             **job_options)
