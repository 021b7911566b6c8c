"""``make bench-peers``: this addon beside OCA queue_job, Celery and RQ.

The same no-op job and ORM job (read 100 records, write each once) on each
system, on the same PostgreSQL, the same Odoo 11 and the same machine, in
one run: jobs/s enqueued and executed, commit-to-start latency, and kill -9
of the workers halfway through a run with effects (bench/peers/measure.py
says how each is measured). The peers live in their own virtualenv,
``bench/.venv-peers`` (made on first run: bench/peers/venv.py); a private
``redis-server`` on a free port serves Celery and RQ. Each system runs in a
process of its own; one that cannot be installed or run says why in its
row. Prints a Markdown table with ratios to this addon. ``--smoke`` (``make
bench-peers SMOKE=1``): a few jobs of each kind, only to prove it all still
runs; ``--db PREFIX``: the databases' prefix (one database per system,
dropped at the end); ``--systems ours,oca,...``: some of them only.
"""
import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from . import odoo_env, venv
from .odoo_env import ensure_db
from .measure import SIZES

SYSTEMS = ('ours', 'ours_processes', 'oca', 'celery', 'rq')
REDIS_SYSTEMS = ('celery', 'rq')
LABELS = {
    'ours': 'background_job (this addon), queue-worker, 4 threads',
    'ours_processes': 'background_job, queue-worker --processes 2, 4 threads each',
    'oca': 'OCA queue_job 11.0.1.4.0, its job runner, channel root:4',
    'celery': 'Celery 5.6 + Redis, threads pool, concurrency 4',
    'rq': 'RQ 2.12 + Redis, 4 SimpleWorker processes',
}
BENCH_DB = 'background_job_bench_peers'
# one system's whole run, at most (the full OCA run takes about 4 minutes)
SYSTEM_TIMEOUT = {'full': 900, 'smoke': 240}


@contextlib.contextmanager
def private_redis():
    """A redis-server of our own on a free port, no persistence; its URL."""
    binary = shutil.which('redis-server')
    if binary is None:
        raise RuntimeError('redis-server is not installed (Debian: apt-get install redis-server)')
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        process = subprocess.Popen(
            [binary, '--port', str(port), '--bind', '127.0.0.1', '--save', '', '--appendonly',
             'no', '--dir', folder], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            wait_redis(port, process)
            yield 'redis://127.0.0.1:%d/0' % port
        finally:
            process.terminate()
            process.wait(30)


def wait_redis(port, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection(('127.0.0.1', port), 1) as sock:
            sock.sendall(b'PING\r\n')
            if sock.recv(16).startswith(b'+PONG'):
                return
        time.sleep(0.1)
    raise RuntimeError('redis-server on port %d did not answer' % port)


def run_system(name, prefix, mode, redis_url):
    """The figures of one system (measure.py in a process of its own, in the
    peers' virtualenv), or {'error': why}; its progress is printed as it
    comes, the rest of its output kept in test-output/bench-peers/NAME-measure.log."""
    command = [venv.PYTHON, '-m', 'bench.peers.measure', name, '--db', prefix]
    if mode == 'smoke':
        command.append('--smoke')
    log_path = os.path.join(odoo_env.OUTPUT, name + '-measure.log')
    process = subprocess.Popen(
        command, cwd=venv.ROOT, env=dict(os.environ, PEERS_REDIS_URL=redis_url or ''),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    # the process group ends after SYSTEM_TIMEOUT, however busy or silent
    timer = threading.Timer(SYSTEM_TIMEOUT[mode], os.killpg, (process.pid, signal.SIGKILL))
    timer.start()
    result, last = None, '?'
    with open(log_path, 'w') as log:
        for line in process.stdout:
            log.write(line)
            if line.startswith('RESULT '):
                result = json.loads(line[len('RESULT '):])
            elif line.startswith(name + ': '):
                print('  ' + line.rstrip(), flush=True)
            elif line.strip():
                last = line.strip()
    process.wait()
    timer.cancel()
    if result is None:
        return {'error': 'stopped without a result (exit %s): %s'
                % (process.returncode, last[:300])}
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--smoke', action='store_true',
                        help='a few jobs of each kind: does it all still run?')
    parser.add_argument('--db', default=BENCH_DB,
                        help='prefix of the databases (default: %(default)s)')
    parser.add_argument('--systems', default=','.join(SYSTEMS),
                        help='comma-separated, among %s' % ', '.join(SYSTEMS))
    options = parser.parse_args()
    names = options.systems.split(',')
    unknown = set(names) - set(SYSTEMS)
    if unknown:
        parser.error('unknown system(s): %s (choose among %s)' % (', '.join(sorted(unknown)),
                                                                   ', '.join(SYSTEMS)))
    mode = 'smoke' if options.smoke else 'full'
    started = time.monotonic()
    os.makedirs(odoo_env.OUTPUT, exist_ok=True)
    results = {name: {'error': 'not installed: ' + why} for name, why in venv.ensure().items()
               if name in names}
    with contextlib.ExitStack() as stack:
        try:
            redis_url = stack.enter_context(private_redis())
        except RuntimeError as error:
            redis_url = None
            results.update({name: {'error': str(error)} for name in REDIS_SYSTEMS
                            if name in names and name not in results})
        for name in names:
            if name not in results:
                print('%s (%s)' % (LABELS[name], name), flush=True)
                results[name] = run_system(name, options.db, mode, redis_url)
    for name in names:
        ensure_db.drop('%s_%s' % (options.db, name), force=True)
    print_table(names, results, SIZES[mode], os.getloadavg())
    print('\n(%s run: %.0f s)' % (mode, time.monotonic() - started))


def print_table(names, results, sizes, load):
    print('\nmake bench-peers, %s; same no-op and ORM jobs on every system (ORM job: '
          'read 100 records, write each once); ratios to this addon in brackets; '
          'load average %.1f %.1f %.1f.' % (time.strftime('%Y-%m-%d'), *load))
    print('\n| system | enqueued ({noop:,} no-op) | executed ({noop:,} no-op) | '
          'ORM jobs executed ({orm:,}) | commit-to-start p50 / p99 | '
          'kill -9 halfway through {kill:,} jobs: lost / run twice |'.format(**sizes))
    print('|---|---|---|---|---|---|')
    ours = results.get('ours', {})
    for name in names:
        result = results[name]
        if 'error' in result:
            print('| %s | not measured: %s | | | | |'
                  % (LABELS[name], result['error'].replace('|', '/')))
            continue
        print('| %s | %s | %s | %s | %s | %d / %d |' % (
            LABELS[name], rate(result, ours, 'enqueue'), rate(result, ours, 'execute'),
            rate(result, ours, 'orm'),
            '%.1f / %.1f ms%s' % (result['p50'] * 1000, result['p99'] * 1000,
                                  ratio(result, ours, 'p50')),
            result['lost'], result['twice']))


def rate(result, ours, key):
    return '{:,.0f}/s{}'.format(result[key], ratio(result, ours, key))


def ratio(result, ours, key):
    return ' (%.2f)' % (result[key] / ours[key]) if ours.get(key) else ''


if __name__ == '__main__':
    main()
