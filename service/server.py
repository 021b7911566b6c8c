"""Start the job workers inside Odoo's servers, and as a process of its own.

- threaded server (the default): worker threads in the server process;
- prefork server (--workers N): one dedicated job process forked by the
  server's arbiter, restarted if it dies; HTTP workers never run jobs;
- ``odoo queue-worker``: workers only (cli/queue_worker.py), so more
  machines can serve the same database.

The addon must be loaded server-wide (``server_wide_modules`` or
``--load=base,web,background_job``) for its post_load hook to run before the
server starts.
"""
import logging
import os
import re
import signal
import time

import psycopg2

import odoo
from odoo.service import server as odoo_server
from odoo.tools import config

from ..engine.manager import Manager
from ..engine.worker import DatabaseRunner
from .executor import OdooExecutor
from .options import ADDON, names, settings

_logger = logging.getLogger(__name__)



def connect(dbname):
    """The engine's own connection (claims, failure records, heartbeats),
    with Odoo's connection settings.

    Its commits do not wait for the disk (synchronous_commit off): losing
    the last ones in a PostgreSQL crash only makes a job run again. A job's
    own transaction stays synchronous, and flushing it to disk flushes every
    earlier claim as well. Both ends drop it when the other goes silent
    (network_timeout), as the jobs' connections (service/job_cursor.py).
    """
    _, params = odoo.sql_db.connection_info_for(dbname)
    return psycopg2.connect(application_name='background_job', **params,
                            **settings().connection_parameters('-c synchronous_commit=off'))


def addon_installed(dbname):
    try:
        connection = connect(dbname)
    except psycopg2.Error:
        return False
    try:
        with connection.cursor() as cr:
            cr.execute("SELECT to_regclass('queue_job') IS NOT NULL AND EXISTS ("
                       " SELECT 1 FROM ir_module_module WHERE name = %s"
                       " AND state IN ('installed', 'to upgrade'))", (ADDON,))
            return cr.fetchone()[0]
    except psycopg2.Error:
        return False
    finally:
        connection.close()


def candidate_databases():
    configured = settings().databases or names(config['db_name'] or '')
    if configured:
        return list(configured)
    connection = connect('postgres')
    try:
        with connection.cursor() as cr:
            cr.execute("SELECT datname FROM pg_database WHERE datallowconn "
                       "AND NOT datistemplate AND datname <> 'postgres' ORDER BY datname")
            existing = [row[0] for row in cr.fetchall()]
    finally:
        connection.close()
    # Odoo's dbfilter says which databases this server serves; its %h / %d
    # parts name the HTTP host, which workers do not have: they match all.
    pattern = (config['dbfilter'] or '.*').replace('%h', '.*').replace('%d', '.*')
    return [name for name in existing if re.match(pattern, name)]


def list_databases():
    return [name for name in candidate_databases() if addon_installed(name)]


def make_manager(too_many_abandoned=None):
    """The Manager of this process's runners; ``too_many_abandoned(runner)``:
    see DatabaseRunner (default: an ERROR in the log, for the threaded
    server, whose process also serves HTTP)."""
    current = settings()
    return Manager(list_databases, lambda dbname: DatabaseRunner(
        dbname, lambda: connect(dbname), OdooExecutor(dbname), current,
        too_many_abandoned=too_many_abandoned), current.database_refresh)


def run_workers_until_signal():
    """Foreground loop of the job process and of ``odoo queue-worker``:
    until SIGINT or SIGTERM (a second one exits at once), or until as many
    job threads as ``threads`` of a database are stuck in ended jobs. Then
    the workers stop (running jobs get shutdown_timeout seconds, the rest
    are requeued). True if the process must restart (stuck threads)."""
    stop, restart = [], []

    def on_signal(*args):
        if stop:
            _logger.warning('second signal: exiting without waiting for running jobs')
            os._exit(1)
        stop.append(True)

    def on_too_many_abandoned(runner):
        _logger.error('%d job threads serving %s are stuck in ended jobs: this job '
                      'process restarts (running jobs get shutdown_timeout to finish)',
                      len(runner.watchdog.abandoned_threads), runner.dbname)
        restart.append(True)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    manager = make_manager(on_too_many_abandoned)
    manager.start()
    while not stop and not restart:
        time.sleep(0.2)
    _logger.info('job workers stopping: running jobs get %ss to finish',
                 settings().shutdown_timeout)
    manager.stop()
    return bool(restart) and not stop


# -- hooks into Odoo's servers ------------------------------------------------
def _threaded_cron_spawn(original):
    def cron_spawn(self):
        original(self)
        if settings().threads > 0:
            self.background_job_manager = make_manager()
            self.background_job_manager.start()
    return cron_spawn


def _threaded_stop(original):
    def stop(self):
        manager = getattr(self, 'background_job_manager', None)
        if manager:
            manager.stop()
        return original(self)
    return stop


def _prefork_process_spawn(original):
    def process_spawn(self):
        original(self)
        if settings().threads <= 0:
            return
        pid = getattr(self, 'background_job_pid', None)
        if pid and _alive(pid):
            return
        pid = os.fork()
        if pid == 0:
            _job_process(self)
        _logger.info('job worker process %s started', pid)
        self.background_job_pid = pid
    return process_spawn


def _prefork_stop(original):
    def stop(self, graceful=True):
        pid = getattr(self, 'background_job_pid', None)
        if pid and _alive(pid):
            os.kill(pid, signal.SIGTERM if graceful else signal.SIGKILL)
        result = original(self, graceful)
        if pid and graceful:  # a supervisor may end the rest once the arbiter exits
            deadline = time.monotonic() + settings().shutdown_timeout + 5
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
        return result
    return stop


def _job_process(server):
    """Body of the forked job process: never returns."""
    status = 0
    try:
        for sig in (signal.SIGHUP, signal.SIGCHLD, signal.SIGTTIN, signal.SIGTTOU):
            signal.signal(sig, signal.SIG_DFL)
        if server.socket:
            server.socket.close()
        odoo.sql_db.close_all()  # never share the arbiter's connections
        if run_workers_until_signal():
            _logger.info('job worker process exits to be restarted by the server')
    except Exception:
        _logger.exception('job worker process crashed')
        status = 1
    finally:
        os._exit(status)


def _alive(pid):
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return finished == 0


def _wrap(cls, name, wrapper):
    original = getattr(cls, name)
    if getattr(original, '_background_job_wrapped', False):
        return
    wrapped = wrapper(original)
    wrapped._background_job_wrapped = True
    setattr(cls, name, wrapped)


def post_load():
    """Called by Odoo when it loads the addon (server-wide: at start-up)."""
    _wrap(odoo_server.ThreadedServer, 'cron_spawn', _threaded_cron_spawn)
    _wrap(odoo_server.ThreadedServer, 'stop', _threaded_stop)
    _wrap(odoo_server.PreforkServer, 'process_spawn', _prefork_process_spawn)
    _wrap(odoo_server.PreforkServer, 'stop', _prefork_stop)
