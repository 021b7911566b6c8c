"""`make bench SMOKE=1` and `make bench-ui SMOKE=1`, the README's commands
in their short mode, run as a user runs them (a shell's environment, the
real make targets) on databases of their own: so that neither breaks
silently between the long runs."""
import os
import subprocess

import pytest

from .odoo_server import ROOT, TEST_DB, ensure_db

pytestmark = pytest.mark.server


def run_make(target, db, timeout):
    """Output of `make <target> SMOKE=1 BENCH_DB=<db>`; the database and its
    template are dropped afterwards."""
    # not the variables of the `make test` that runs us
    env = {key: value for key, value in os.environ.items()
           if key not in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'PYTEST_CURRENT_TEST')}
    try:
        result = subprocess.run(['make', '--no-print-directory', target, 'SMOKE=1',
                                 'BENCH_DB=' + db], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=timeout)
    finally:
        for name in (db, ensure_db.template_name(db)):
            ensure_db.drop(name, force=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_make_bench_smoke_prints_every_measure():
    output = run_make('bench', TEST_DB + '_bench', timeout=300)
    assert '| measure | result | ratio | target |' in output, output
    for measure in ('raw PostgreSQL claim + done (4 connections, reference)',
                    'no-op jobs executed (queue-worker, 4 threads)',
                    'delay() in one transaction', 'batch_execute_job: 3,000 ids into 30 jobs',
                    'commit-to-start latency, idle queue', 'executed with 3,000 pending',
                    'executed with 3,000 pending and 300 waiting dependents',
                    'executed with 3,000 pending, each job making a waiting dependent pending',
                    'worker RSS after 100 / 1,000 jobs'):
        assert '| %s | ' % measure in output, output


def test_make_bench_ui_smoke_prints_its_table():
    output = run_make('bench-ui', TEST_DB + '_bench_ui', timeout=300)
    assert '| rows | list | matches | rpc median |' in output, output
    # the browser column is measured too (not '-')
    assert '| 3,000 | default filter | 90 | ' in output, output
    default_row = next(line for line in output.splitlines() if 'default filter' in line)
    assert default_row.rstrip(' |').endswith(' ms'), default_row
    assert '| 3,000 | no filter | 3,000 | ' in output, output
