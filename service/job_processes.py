"""Job processes in Odoo: the supervisor's process and each job process's
body (the pool's logic is engine/processes.py).

Who supervises, with ``processes = N`` (N >= 1):

- ``odoo queue-worker``: its own process (it starts no thread before);
- the threaded server: a process it forks in ``start()``, before its HTTP
  thread exists; the job processes start once the server has loaded its
  databases (``cron_spawn``), and the supervisor ends them and itself when
  the server goes (the pipe between them closes);
- the prefork server: a process its arbiter forks, in place of the one job
  process it ran before (N = 0 there means one job process).
"""
import ctypes
import logging
import os
import select
import signal
import socket
import sys
import time

import odoo

from ..engine import processes as pool_logic
from ..engine import store
from ..engine.transaction import transaction
from .options import settings

_logger = logging.getLogger(__name__)


def forget_inherited_connections():
    """Drop, without closing, the database connections a forked process
    inherited: closing one would end the parent's session with it."""
    odoo.sql_db._Pool = None


def die_with_parent():
    """SIGTERM when the parent dies (Linux): a job process whose supervisor
    was killed stops cleanly instead of running on unsupervised."""
    if sys.platform.startswith('linux'):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def mark_dead(pid, reason):
    """Record in every served database why job process ``pid`` died (its
    running jobs then get that reason when the reaper requeues them)."""
    if not reason:
        return
    from .server import connect, list_databases
    host = socket.gethostname()
    for dbname in list_databases():
        connection = connect(dbname)
        try:
            connection.autocommit = True
            with transaction(connection) as cr:
                store.mark_process_dead(cr, host, pid, reason)
        finally:
            connection.close()


def _job_process(slot, closing=()):
    """Body of a job process, forked by the supervisor (whose signal
    handlers are already the defaults): never returns."""
    status = 0
    try:
        for fd in closing:
            os.close(fd)
        die_with_parent()
        forget_inherited_connections()
        from .server import run_workers_until_signal
        run_workers_until_signal(memory_soft=settings().memory_soft,
                                 supervisor=os.getppid())
    except Exception:
        _logger.exception('job process %d crashed', os.getpid())
        status = 1
    finally:
        logging.shutdown()
        os._exit(status)


def run_supervisor(size, parent_pipe=None, watch_parent=False, closing=()):
    """The supervisor's loop: keep ``size`` job processes running until
    SIGTERM or SIGINT, or until the server that forked it is gone; then
    stop them (shutdown_timeout) and return.

    ``parent_pipe``: a file descriptor that receives one byte when the job
    processes may start, and end-of-file when the server is gone (threaded
    server). ``watch_parent``: stop when the parent process is gone
    (prefork arbiter). ``closing``: descriptors each job process closes."""
    stop = []

    def on_signal(*args):
        stop.append(True)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    current = settings()
    pool = pool_logic.ProcessPool(
        size, lambda slot: _fork(lambda: _job_process(slot, closing)), mark_dead,
        memory_hard=current.memory_hard)
    started = parent_pipe is None
    parent = os.getppid()
    _logger.info('job process supervisor %d: %d job processes of %d threads%s',
                 os.getpid(), size, current.threads,
                 ', limit_memory_hard %d MB' % (current.memory_hard // pool_logic.MB)
                 if current.memory_hard else '')
    while not stop:
        if parent_pipe is not None:
            ready = select.select([parent_pipe], [], [], pool_logic.CHECK_INTERVAL)[0]
            if ready:
                if not os.read(parent_pipe, 1):
                    break  # the server is gone
                started = True
        else:
            select.select([], [], [], pool_logic.CHECK_INTERVAL)
            if watch_parent and os.getppid() != parent:
                break  # the prefork arbiter is gone
        if started:
            try:
                pool.round()
            except Exception:  # a fork that failed, say: try again next round
                _logger.exception('job process supervisor %d: round failed', os.getpid())
                time.sleep(1)
    _logger.info('job process supervisor %d stopping its job processes', os.getpid())
    pool.stop(current.shutdown_timeout + pool_logic.STOP_MARGIN)


def _fork(body):
    pid = os.fork()
    if pid == 0:
        body()
    return pid


def fork_supervisor(size, parent_pipe=None, closing=()):
    """Fork a process that runs run_supervisor (watching its parent), then
    exits; returns its pid. ``closing``: descriptors it closes at once."""
    pid = os.fork()
    if pid:
        return pid
    status = 0
    try:
        for sig in (signal.SIGHUP, signal.SIGCHLD, signal.SIGTTIN, signal.SIGTTOU,
                    signal.SIGQUIT, signal.SIGUSR1):
            signal.signal(sig, signal.SIG_DFL)
        for fd in closing:
            os.close(fd)
        forget_inherited_connections()
        run_supervisor(size, parent_pipe, watch_parent=True,
                       closing=() if parent_pipe is None else (parent_pipe,))
    except Exception:
        _logger.exception('job process supervisor crashed')
        status = 1
    finally:
        logging.shutdown()
        os._exit(status)
