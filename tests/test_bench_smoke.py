"""`make bench SMOKE=1`, `make bench-ui SMOKE=1` (the Jobs list, the
overview and the metrics scrape) and `make bench-peers SMOKE=1`, the
README's commands in their short mode, run as a user runs them (a shell's
environment, the real make targets) on databases of their own: so that none
breaks silently between the long runs."""
import os
import re
import subprocess

import pytest

from .odoo_server import ROOT, TEST_DB, ensure_db

pytestmark = pytest.mark.server


def run_make(target, db, timeout, databases=None):
    """Output of `make <target> SMOKE=1 BENCH_DB=<db>`; the database and its
    template (or ``databases``) are dropped afterwards."""
    # not the variables of the `make test` that runs us
    env = {key: value for key, value in os.environ.items()
           if key not in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'PYTEST_CURRENT_TEST')}
    try:
        result = subprocess.run(['make', '--no-print-directory', target, 'SMOKE=1',
                                 'BENCH_DB=' + db], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=timeout)
    finally:
        for name in databases or (db, ensure_db.template_name(db)):
            ensure_db.drop(name, force=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_make_bench_smoke_prints_every_measure():
    output = run_make('bench', TEST_DB + '_bench', timeout=300)
    assert '| measure | result | ratio | target |' in output, output
    for measure in ('raw PostgreSQL claim + done (4 connections, reference)',
                    'the same with the claim of 2026-12-01 (bench/claim_before.py)',
                    'no-op jobs executed (queue-worker, 4 threads)',
                    'delay() in one transaction', 'batch_execute_job: 3,000 ids into 30 jobs',
                    'commit-to-start latency, idle queue', 'executed with 3,000 pending',
                    'executed with 3,000 pending and 300 waiting dependents',
                    'executed with 3,000 pending, each job making a waiting dependent pending',
                    'a job calling set_progress() at each of its 10,000 steps (16 KiB hashed '
                    'a step)', 'worker RSS after 100 / 1,000 jobs',
                    'CPU-bound jobs (20 ms of Python each), 1 job process of 4 threads',
                    'the same, 2 job processes (`processes = 2`)',
                    'ORM jobs (read 100 records, write each), 1 job process',
                    'the same, 2 job processes',
                    'job process RSS over 1,000 no-op jobs: after 10% / largest',
                    'the same, one job in 100 leaking 100 MiB, limit_memory_soft 150 MiB '
                    'above start'):
        assert '| %s | ' % measure in output, output
    # the leaking job's process was recycled by the soft limit
    leaking = next(line for line in output.splitlines() if 'leaking 100 MiB' in line)
    assert re.search(r', ([2-9]|\d\d+) job processes \|', leaking), leaking


def test_make_bench_ui_smoke_prints_its_table():
    output = run_make('bench-ui', TEST_DB + '_bench_ui', timeout=300)
    assert '| rows | list | matches | rpc median |' in output, output
    # the browser column is measured too (not '-')
    assert '| 3,000 | default filter | 90 | ' in output, output
    default_row = next(line for line in output.splitlines() if 'default filter' in line)
    assert default_row.rstrip(' |').endswith(' ms'), default_row
    assert '| 3,000 | no filter | 3,000 | ' in output, output
    assert '| 3,000 | live poll, nothing changed | ' in output, output
    # the overview, rpc and browser
    assert '| rows | screen | rpc median | rpc worst | browser median |' in output, output
    overview_row = next(line for line in output.splitlines() if '| overview |' in line)
    assert overview_row.startswith('| 3,000 | overview | '), overview_row
    assert overview_row.rstrip(' |').endswith(' ms'), overview_row
    # the metrics scrape
    assert '| rows | request median | request worst | SQL median | SQL worst |' in output, output
    assert re.search(r'^\| 3,000 \| \d+ ms \| \d+ ms \| \d+ ms \| \d+ ms \|$', output, re.M), output


PEERS = ('background_job (this addon)', 'background_job, queue-worker --processes 2',
         'OCA queue_job 11.0', 'Celery 5', 'RQ 2')


def test_make_bench_peers_smoke_measures_every_system():
    """Each system's row has its figures (a peer that could not run would
    say why instead), and this addon neither loses nor repeats a job when
    its worker is killed with -9 halfway through."""
    prefix = TEST_DB + '_peers'
    # the first run in a fresh clone also builds bench/.venv-peers
    output = run_make('bench-peers', prefix, timeout=900, databases=[
        '%s_%s' % (prefix, system)
        for system in ('ours', 'ours_processes', 'oca', 'celery', 'rq')])
    assert ('| system | enqueued (60 no-op) | executed (60 no-op) | ORM jobs executed (8) | '
            'commit-to-start p50 / p99 | kill -9 halfway through 40 jobs: lost / run twice |'
            in output), output
    rows = [line for line in output.splitlines() if line.startswith('| ') and '/s' in line]
    for peer in PEERS:
        row = next((line for line in rows if line.startswith('| ' + peer)), None)
        assert row is not None and 'not measured' not in row, (peer, output)
        cells = [cell.strip() for cell in row.strip('| ').split(' | ')]
        assert len(cells) == 6, row
        assert all(cell.endswith(')') and '/s (' in cell for cell in cells[1:4]), row
        assert cells[4].endswith(')') and ' ms (' in cells[4], row
    ours = next(line for line in rows if line.startswith('| ' + PEERS[0]))
    assert ours.count('(1.00)') == 4 and ours.rstrip().endswith('| 0 / 0 |'), ours
    processes = next(line for line in rows if line.startswith('| ' + PEERS[1]))
    assert processes.rstrip().endswith('| 0 / 0 |'), processes
