"""Real Odoo servers on throwaway databases, for tests that need a server
process (HTTP, browser, several workers, crashes).

Helper module, no tests in it. Typical use::

    with temporary_database() as db, OdooServer(db, '--workers=2') as server:
        status, body = server.get('/web/login')

* Databases are clones of ``background_job_test_template``, which
  ``scripts/ensure_db.py`` refreshes whenever it (re)builds the test
  database (``make test`` runs it first). The test database itself cannot be
  a template: the pytest session stays connected to it.
* A server listens on 127.0.0.1 only, on free ports, and writes its log to
  ``test-output/<test name>/odoo.log``; its process group is always ended,
  also when the test fails or pytest itself dies.
"""
import contextlib
import ctypes
import importlib.util
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from odoo.addons.background_job.engine.worker import process_exists

import psycopg2

# realpath: Odoo and pytest import the addon through .venv/addons/background_job.
ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
OUTPUT_ROOT = os.path.join(ROOT, 'test-output')


def _load_ensure_db():
    """scripts/ensure_db.py (a script, not a package) as a module."""
    name = 'background_job_scripts_ensure_db'
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(ROOT, 'scripts', 'ensure_db.py'))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


ensure_db = _load_ensure_db()
ODOO = ensure_db.ODOO
CONFIG = ensure_db.CONFIG
BIN = os.path.dirname(ODOO)
TEST_DB = os.environ.get('BACKGROUND_JOB_TEST_DB', 'background_job_test')
TEMPLATE_DB = ensure_db.template_name(TEST_DB)
CLONE_PREFIX = 'bj_srv_'

# ---------------------------------------------------------------- output


_prepared_outputs = set()


def current_test_name():
    """Name of the running pytest test (``test_x``, ``TestCase.test_x``,
    ``test_x[param]``), from PYTEST_CURRENT_TEST."""
    current = os.environ.get('PYTEST_CURRENT_TEST', '')
    nodeid = current.rsplit(' (', 1)[0]
    parts = nodeid.split('::')[1:]
    return '.'.join(parts) if parts else 'no-test'


def test_output_dir(name=None):
    """``test-output/<test name>/``, emptied the first time this process asks
    for it (so a rerun does not mix old screenshots and logs with new ones)."""
    name = re.sub(r'[^A-Za-z0-9_.=+-]+', '_', name or current_test_name()).strip('_.') or 'test'
    path = os.path.join(OUTPUT_ROOT, name)
    if path not in _prepared_outputs:
        shutil.rmtree(path, ignore_errors=True)
        _prepared_outputs.add(path)
    os.makedirs(path, exist_ok=True)
    return path


test_output_dir.__test__ = False  # not a test, even when imported into a test module


def wait_until(condition, timeout, what, interval=0.2):
    """Poll ``condition()`` until it is truthy and return its value; raise
    AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError('waited %ss for %s (last: %r)' % (timeout, what, value))
        time.sleep(interval)


# ----------------------------------------------------------------- ports


_handed_out_ports = set()


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on now (and that this
    process has not handed out before)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(('127.0.0.1', 0))
            port = sock.getsockname()[1]
        if port not in _handed_out_ports:
            _handed_out_ports.add(port)
            return port
    raise RuntimeError('no free port found')


# ------------------------------------------------------------- databases


_clone_numbers = itertools.count(1)
_stale_swept = False


def clone_database(template=TEMPLATE_DB, name=None, timeout=120):
    """Create database ``name`` (default: a new ``bj_srv_<pid>_<n>``) as a copy
    of ``template``, filestore included. Return its name."""
    global _stale_swept
    if not _stale_swept:
        _stale_swept = True
        drop_stale_databases()
    if name is None:
        name = '%s%d_%d' % (CLONE_PREFIX, os.getpid(), next(_clone_numbers))
    # Another `make test` may be remaking the template right now: wait for it.
    deadline = time.monotonic() + timeout
    while True:
        try:
            ensure_db.copy(template, name, timeout=max(1, deadline - time.monotonic()))
            return name
        except psycopg2.errors.InvalidCatalogName:
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    'no database %s: run `make test` (scripts/ensure_db.py %s makes it)'
                    % (template, TEST_DB)) from None
            time.sleep(1)


def drop_database(name):
    """Drop the database and its filestore, ending sessions still on it."""
    ensure_db.drop(name, force=True)


@contextlib.contextmanager
def temporary_database(template=TEMPLATE_DB):
    """A fresh clone of ``template`` for the ``with`` block, dropped after."""
    name = clone_database(template)
    try:
        yield name
    finally:
        drop_database(name)


def drop_stale_databases():
    """Drop clones left behind by test processes that died (their pid is gone
    and nobody is connected to them)."""
    connection = ensure_db.connect_maintenance()
    try:
        with connection.cursor() as cr:
            cr.execute("""SELECT datname FROM pg_database d WHERE datname LIKE %s
                          AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                                          WHERE a.datname = d.datname)""",
                       (CLONE_PREFIX + '%',))
            names = [row[0] for row in cr.fetchall()]
    finally:
        connection.close()
    for name in names:
        match = re.match(re.escape(CLONE_PREFIX) + r'(\d+)_\d+$', name)
        if match and not process_exists(int(match.group(1))):
            drop_database(name)


# ---------------------------------------------------------------- server


class ServerError(RuntimeError):
    pass


def _die_with_parent():
    """In the child before exec: get SIGTERM when the test process dies, so
    no server outlives a killed pytest (Linux)."""
    os.setsid()
    if sys.platform.startswith('linux'):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class OdooServer:
    """A real Odoo server process on database ``db``.

    ``OdooServer(db, '--workers=2')`` runs::

        .venv/bin/odoo -c odoo.conf -d DB --db-filter=^DB$
            --http-interface=127.0.0.1 --http-port=P --longpolling-port=P2
            --logfile=test-output/<test>/<log_name>.log --workers=2

    ``command`` replaces the first line (e.g. the command of ``make run``).
    As a context manager it starts on enter and always stops on exit.
    ``start()`` can be called again after ``stop()`` or ``kill()``: same
    ports, same log file (appended to).
    """

    def __init__(self, db, *args, command=None, name=None, log_name='odoo',
                 timeout=120, env=None):
        self.db = db
        self.args = list(args)
        self.command = list(command) if command else [
            ODOO, '-c', CONFIG, '-d', db, '--db-filter=^%s$' % db]
        self.output_dir = test_output_dir(name)
        self.logfile = os.path.join(self.output_dir, log_name + '.log')
        self.consolefile = os.path.join(self.output_dir, log_name + '.console.log')
        self.timeout = timeout
        self.env = dict(env or {})
        self.port = None
        self.longpolling_port = None
        self.process = None

    # -- context manager
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    # -- lifecycle
    def full_command(self):
        return self.command + [
            '--http-interface=127.0.0.1',
            '--http-port=%d' % self.port,
            '--longpolling-port=%d' % self.longpolling_port,
            '--logfile=%s' % self.logfile,
        ] + self.args

    def start(self, timeout=None, wait_ready=True):
        """Start the server and wait until GET /web/login answers 200 (at most
        ``timeout`` seconds); else end it and raise ServerError with the end of
        its log. A port taken meanwhile by someone else is replaced.
        ``wait_ready=False``: return once the process is spawned (a test that
        kills it at any moment of its life)."""
        if self.running:
            raise ServerError('server already running (pid %d)' % self.process.pid)
        timeout = self.timeout if timeout is None else timeout
        fixed_ports = self.port is not None
        for attempt in range(3):
            if not fixed_ports:
                self.port, self.longpolling_port = free_port(), free_port()
            self._spawn()
            if not wait_ready:
                return self
            problem = self._wait_ready(timeout)
            if problem is None:
                return self
            self.kill()
            if problem == 'port in use' and not fixed_ports and attempt < 2:
                continue
            raise ServerError('Odoo server on %s: %s\ncommand: %s\n%s' % (
                self.url('/'), problem, ' '.join(self.full_command()), self.log_tail()))

    def _spawn(self):
        env = dict(os.environ)
        env['PATH'] = BIN + os.pathsep + env.get('PATH', '')  # lessc is in .venv/bin
        env.pop('PYTEST_CURRENT_TEST', None)
        env.update(self.env)
        self._log_start = os.path.getsize(self.logfile) if os.path.exists(self.logfile) else 0
        with open(self.consolefile, 'ab') as console:
            self.process = subprocess.Popen(
                self.full_command(), cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                stdout=console, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)

    def _wait_ready(self, timeout):
        """None when /web/login answers 200, else what went wrong."""
        deadline = time.monotonic() + timeout
        last = 'no answer'
        while time.monotonic() < deadline:
            if self._exit_status() is not None:
                return 'process exited (%s) before answering' % self._exit_status()
            if 'Address already in use' in self.log_text(since_start=True):
                return 'port in use'
            try:
                status, _ = self.get('/web/login', timeout=max(1, min(30, deadline - time.monotonic())))
            except OSError as error:  # refused, reset, timed out
                last = repr(error)
            else:
                if status == 200:
                    return None
                last = 'HTTP %d' % status
            time.sleep(0.25)
        return 'GET /web/login gave no 200 within %ss (last: %s)' % (timeout, last)

    @property
    def running(self):
        return self.process is not None and self._exit_status() is None

    @property
    def pid(self):
        return self.process and self.process.pid

    def stop(self, timeout=60):
        """SIGTERM (graceful shutdown), wait up to ``timeout`` s, then SIGKILL;
        any process the server left in its group is killed too. Return the
        exit code (None if never started)."""
        if self.process is None:
            return None
        if self._wait_exit(0) is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
            self._wait_exit(timeout)
        return self._finish()

    def kill(self):
        """SIGKILL the server and every process of its group at once (a crash:
        no shutdown code runs). Return the exit code."""
        if self.process is None:
            return None
        return self._finish()

    def _exit_status(self):
        """None while the main process runs, else how it ended. Never reaps it:
        until ``_finish`` reaps it, its pid keeps the process group id ours,
        so that the group can be killed without hitting a stranger."""
        if self.process.returncode is not None:
            return 'exit code %s' % self.process.returncode
        try:
            info = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
        except ChildProcessError:
            return 'reaped elsewhere'
        if info is None:
            return None
        if info.si_code == os.CLD_EXITED:
            return 'exit code %d' % info.si_status
        return 'signal %d' % info.si_status

    def _wait_exit(self, timeout):
        """Wait up to ``timeout`` s for the main process to end; return how it
        ended, or None."""
        deadline = time.monotonic() + timeout
        while True:
            status = self._exit_status()
            if status is not None or time.monotonic() >= deadline:
                return status
            time.sleep(0.1)

    def _finish(self):
        if self.process.returncode is None:
            # Main process not reaped yet: the group id is still ours.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        code = self.process.wait()
        return code

    # -- talking to it
    def url(self, path='/'):
        return 'http://127.0.0.1:%d%s' % (self.port, path)

    def get(self, path, timeout=30):
        """GET ``path``: (status, body as text); HTTP errors are answers too."""
        try:
            with urllib.request.urlopen(self.url(path), timeout=timeout) as response:
                return response.status, response.read().decode('utf-8', 'replace')
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode('utf-8', 'replace')

    # -- logs
    def log_text(self, since_start=False):
        """The server's log file (Odoo's logging); ``since_start``: only what
        the last start wrote."""
        try:
            with open(self.logfile, 'rb') as handle:
                if since_start:
                    handle.seek(self._log_start)
                return handle.read().decode('utf-8', 'replace')
        except FileNotFoundError:
            return ''

    def console_text(self):
        """stdout and stderr of the process (what Odoo prints before its
        logging is set up, and crashes of the interpreter)."""
        try:
            with open(self.consolefile, 'rb') as handle:
                return handle.read().decode('utf-8', 'replace')
        except FileNotFoundError:
            return ''

    def log_errors(self):
        """Log lines at level ERROR or CRITICAL."""
        return [line for line in self.log_text().splitlines()
                if re.match(r'\S+ \S+ \d+ (ERROR|CRITICAL) ', line)]

    def log_tail(self, chars=6000):
        text = '--- %s (end) ---\n%s' % (self.logfile, self.log_text()[-chars:])
        console = self.console_text().strip()
        if console:
            text += '\n--- %s (end) ---\n%s' % (self.consolefile, console[-2000:])
        return text
