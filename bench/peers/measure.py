"""One system of ``make bench-peers``, in the peers' virtualenv:
``python -m bench.peers.measure SYSTEM --db PREFIX [--smoke]``.

Builds the system's database, starts its workers, then measures, in this
order and the same way for every system:

* enqueue: the no-op job enqueued ``noop`` times while the workers are
  stopped (SIGSTOP), as its users enqueue (Odoo queues: in one transaction,
  committed; Celery and RQ: one call each);
* execute: from SIGCONT (the whole backlog released at once) until the
  last of them is done; the same for the ORM job;
* latency: from the commit (Celery, RQ: the send) of one job on an idle
  queue to the start of its code (the effect row it writes), ``samples``
  times;
* kill -9: ``kill`` effect jobs (each writes a row with its key, then waits
  50 ms in its transaction), the workers killed when half the keys have a
  row, then restarted; lost = keys without a row, twice = keys with more,
  once nothing changed for ``settle`` seconds.

Prints its progress, then one line ``RESULT {json}``: the figures, or
``{"error": why}``.
"""
import argparse
import json
import os
import sys
import time
import traceback

from . import odoo_env, venv

SIZES = {
    # OCA's ~35 jobs/s make its part the longest: about 3 minutes (quiet machine)
    'full': dict(noop=2000, orm=200, samples=100, kill=400, settle=15),
    'smoke': dict(noop=60, orm=8, samples=10, kill=40, settle=6),
}
EFFECT_PAUSE = 0.05
WARM_UP = 8
WAIT_LIMIT = 900
# how often the benchmark looks for done jobs (about 1% of the shortest run,
# this addon's 2,000 no-op jobs; one query on one connection)
POLL = 0.02


def effects(system, prefix):
    """(keys that have a row, keys that have more than one) among the
    effect rows whose key starts with ``prefix``."""
    return system.watch(
        "SELECT count(*), count(*) FILTER (WHERE runs > 1) "
        "FROM (SELECT count(*) AS runs FROM peers_bench_effect WHERE key LIKE %s "
        "      GROUP BY key) AS keys", (prefix + '%',))


def wait_for(condition, what, limit=WAIT_LIMIT, interval=POLL):
    # imported late: tests/odoo_server.py needs Odoo's addons path (main())
    from tests.odoo_server import wait_until
    return wait_until(condition, limit, what, interval)


def run_jobs(system, method, calls):
    """Enqueue ``calls`` with the workers stopped, release them; (enqueued/s,
    executed/s)."""
    base = system.done_count()
    system.pause()
    try:
        started = time.monotonic()
        system.enqueue(method, calls)
        enqueue_seconds = time.monotonic() - started
    finally:
        system.resume()
    released = time.monotonic()
    wait_for(lambda: system.done_count() >= base + len(calls),
             '%d %s jobs done' % (len(calls), method))
    return len(calls) / enqueue_seconds, len(calls) / (time.monotonic() - released)


def latency(system, samples):
    """(p50, p99) seconds from commit or send to the job's code."""
    from bench.__main__ import p50_p99
    delays = []
    for sample in range(samples):
        key = 'latency-%d' % sample
        system.enqueue('peers_effect', [(key,)])
        sent = time.time()
        started = wait_for(lambda: system.watch(
            'SELECT started FROM peers_bench_effect WHERE key = %s', (key,)),
            'job %s started' % key, limit=60, interval=0.001)
        delays.append(started[0] - sent)
        time.sleep(0.02)
    return p50_p99(delays)


def kill_halfway(system, jobs, settle):
    """kill -9 of the workers when half of ``jobs`` effect jobs have run;
    (lost, run twice) once the restarted workers have settled."""
    system.enqueue('peers_effect', [('kill-%d' % n, EFFECT_PAUSE) for n in range(jobs)])
    wait_for(lambda: effects(system, 'kill-')[0] >= jobs // 2, 'half of the effect jobs')
    system.kill()
    system.start()
    last, quiet_since = None, time.monotonic()
    deadline = time.monotonic() + WAIT_LIMIT
    while time.monotonic() - quiet_since < settle and time.monotonic() < deadline:
        current = effects(system, 'kill-')
        if current != last:
            last, quiet_since = current, time.monotonic()
        if current[0] == jobs:
            break
        time.sleep(0.2)
    keys, twice = effects(system, 'kill-')
    return jobs - keys, twice


def measure(system, sizes):
    print('%s: building database %s ...' % (system.name, system.db), flush=True)
    system.build()
    print('%s: starting workers ...' % system.name, flush=True)
    system.start()
    run_jobs(system, 'peers_noop', [()] * WARM_UP)
    result = {}
    print('%s: %d no-op jobs ...' % (system.name, sizes['noop']), flush=True)
    result['enqueue'], result['execute'] = run_jobs(system, 'peers_noop', [()] * sizes['noop'])
    print('%s: %d ORM jobs ...' % (system.name, sizes['orm']), flush=True)
    blocks = [(n % odoo_env.BLOCKS,) for n in range(sizes['orm'])]
    result['orm'] = run_jobs(system, 'peers_orm', blocks)[1]
    print('%s: latency, %d samples ...' % (system.name, sizes['samples']), flush=True)
    result['p50'], result['p99'] = latency(system, sizes['samples'])
    print('%s: kill -9 halfway through %d jobs ...' % (system.name, sizes['kill']), flush=True)
    result['lost'], result['twice'] = kill_halfway(system, sizes['kill'], sizes['settle'])
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('system')
    parser.add_argument('--db', required=True, help='prefix of the databases')
    parser.add_argument('--smoke', action='store_true')
    options = parser.parse_args()
    os.makedirs(odoo_env.OUTPUT, exist_ok=True)
    import odoo
    # tests/odoo_server.py (systems.py) imports odoo.addons.background_job
    odoo.tools.config.parse_config(['--addons-path=' + venv.OWN_ADDONS, '--log-level=warn'])
    from .systems import SYSTEMS
    system = SYSTEMS[options.system](options.db, {
        'PEERS_REDIS_URL': os.environ['PEERS_REDIS_URL']})
    try:
        result = measure(system, SIZES['smoke' if options.smoke else 'full'])
    except Exception as error:  # reported in the system's row of the table
        traceback.print_exc()
        result = {'error': '%s: %s' % (type(error).__name__, str(error).strip().splitlines()[0]
                                       if str(error).strip() else '')}
    finally:
        system.stop()
    print('RESULT ' + json.dumps(result), flush=True)
    return 0 if 'error' not in result else 1


if __name__ == '__main__':
    sys.exit(main())
