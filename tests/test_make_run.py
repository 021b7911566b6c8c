"""`make run` serves the login page: its very Odoo command line (read from
the Makefile with `make -n`), on a clone of the test database and free
ports instead of 8069."""
import os
import shlex
import subprocess

import pytest

from .odoo_server import ROOT, OdooServer, temporary_database

pytestmark = pytest.mark.server


def make_run_commands():
    """The commands `make run` would run, each split into arguments."""
    output = subprocess.run(['make', '--no-print-directory', '-n', 'run'], cwd=ROOT,
                            capture_output=True, text=True, check=True, timeout=60).stdout
    return [shlex.split(line) for line in output.splitlines() if line.strip()]


def database_of(command):
    for index, arg in enumerate(command):
        if arg in ('-d', '--database'):
            return command[index + 1]
        if arg.startswith('--database='):
            return arg.split('=', 1)[1]
    raise AssertionError('no -d in %s' % command)


def replace_database(command, old, new):
    return [new if arg == old else arg.replace('^%s$' % old, '^%s$' % new) for arg in command]


def test_make_run_builds_the_database_it_serves():
    commands = make_run_commands()
    (odoo,) = [c for c in commands if os.path.basename(c[0]) == 'odoo']
    (build,) = [c for c in commands if any(a.endswith('ensure_db.py') for a in c)]
    script = next(i for i, arg in enumerate(build) if arg.endswith('ensure_db.py'))
    assert build[script + 1] == database_of(odoo)


def test_the_make_run_command_serves_the_login_page():
    (command,) = [c for c in make_run_commands() if os.path.basename(c[0]) == 'odoo']
    run_db = database_of(command)
    with temporary_database() as db:
        command = replace_database(command, run_db, db)
        assert run_db not in command, command
        with OdooServer(db, command=command) as server:
            status, body = server.get('/web/login')
            assert status == 200
            assert 'name="login"' in body and 'name="password"' in body
