"""Start the job workers inside Odoo's servers, and as a process of its own.

- threaded server (the default): worker threads in the server process,
  or with ``processes = N``, N job processes (service/job_processes.py);
- prefork server (--workers N): job processes (one unless ``processes``
  says more) under a supervisor forked by the server's arbiter; HTTP
  workers never run jobs;
- ``odoo queue-worker``: workers only (cli/queue_worker.py), so more
  machines can serve the same database; ``--processes N`` as above.

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
from ..engine.processes import MB, STOP_MARGIN, resident_bytes
from ..engine.worker import DatabaseRunner
from . import job_processes
from .executor import OdooExecutor
from .options import ADDON, names, settings

_logger = logging.getLogger(__name__)

# Seconds a job process over limit_memory_soft waits for its running jobs:
# their own time limits end them sooner (a job without a limit, within a day).
SOFT_LIMIT_DRAIN = 24 * 3600


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


def run_workers_until_signal(memory_soft=0, supervisor=None):
    """Foreground loop of a job process and of ``odoo queue-worker``:
    until SIGINT or SIGTERM (a second one exits at once), or until as many
    job threads as ``threads`` of a database are stuck in ended jobs. Then
    the workers stop (running jobs get shutdown_timeout seconds, the rest
    are requeued). True if the process must restart (stuck threads).

    A job process also ends once its resident memory passed
    ``memory_soft`` bytes (its running jobs end first, by their own time
    limits), or once its ``supervisor`` (a pid) is gone."""
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
    timeout = None  # shutdown_timeout
    while not stop and not restart:
        time.sleep(0.2)
        if supervisor and os.getppid() != supervisor:
            _logger.warning('job process %d: its supervisor is gone, stopping', os.getpid())
            break
        rss = memory_soft and resident_bytes(os.getpid())
        if rss and rss > memory_soft:
            _logger.info('job process %d uses %d MB, over limit_memory_soft (%d MB): it '
                         'claims no more jobs, lets its running jobs end, then is replaced',
                         os.getpid(), rss // MB, memory_soft // MB)
            timeout = SOFT_LIMIT_DRAIN
            break
    if timeout is None:
        _logger.info('job workers stopping: running jobs get %ss to finish',
                     settings().shutdown_timeout)
    manager.stop(timeout)
    return bool(restart) and not stop


# -- hooks into Odoo's servers ------------------------------------------------
def _threaded_start(original):
    def start(self, stop=False):
        current = settings()
        if current.processes > 0 and current.threads > 0 and not stop:
            # forked now, while this process has no other thread (see
            # service/job_processes.py); its job processes wait for cron_spawn
            read, write = os.pipe()
            self.background_job_supervisor = job_processes.fork_supervisor(
                current.processes, read, closing=(write,))
            os.close(read)
            self.background_job_go = write
        return original(self, stop)
    return start


def _threaded_cron_spawn(original):
    def cron_spawn(self):
        original(self)
        go = getattr(self, 'background_job_go', None)
        if go is not None:  # the databases are loaded: job processes may start
            try:
                os.write(go, b'g')
            except OSError:
                _logger.error('the job process supervisor is gone: this server runs no jobs')
        elif settings().threads > 0:
            self.background_job_manager = make_manager()
            self.background_job_manager.start()
    return cron_spawn


def _threaded_stop(original):
    def stop(self):
        manager = getattr(self, 'background_job_manager', None)
        if manager:
            manager.stop()
        _stop_supervisor(getattr(self, 'background_job_supervisor', None))
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
        closing = (self.socket.fileno(),) if self.socket else ()
        pid = job_processes.fork_supervisor(max(1, settings().processes), closing=closing)
        _logger.info('job process supervisor %s started', pid)
        self.background_job_pid = pid
    return process_spawn


def _prefork_stop(original):
    def stop(self, graceful=True):
        pid = getattr(self, 'background_job_pid', None)
        if pid and _alive(pid):
            os.kill(pid, signal.SIGTERM if graceful else signal.SIGKILL)
        result = original(self, graceful)
        if pid and graceful:  # a supervisor may end the rest once the arbiter exits
            _wait_exit(pid)
        return result
    return stop


def _stop_supervisor(pid):
    """SIGTERM to a job process supervisor; wait until it and its job
    processes have stopped (their shutdown_timeout, then a margin)."""
    if pid and _alive(pid):
        os.kill(pid, signal.SIGTERM)
        _wait_exit(pid)


def _wait_exit(pid):
    deadline = time.monotonic() + settings().shutdown_timeout + 3 * STOP_MARGIN
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


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
    _wrap(odoo_server.ThreadedServer, 'start', _threaded_start)
    _wrap(odoo_server.ThreadedServer, 'cron_spawn', _threaded_cron_spawn)
    _wrap(odoo_server.ThreadedServer, 'stop', _threaded_stop)
    _wrap(odoo_server.PreforkServer, 'process_spawn', _prefork_process_spawn)
    _wrap(odoo_server.PreforkServer, 'stop', _prefork_stop)
