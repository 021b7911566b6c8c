"""``make bench``: throughput, latency and memory of the job engine.

Runs on its own database (``background_job_bench``, built like the test
database) against a real ``odoo queue-worker`` process with the default
worker settings (4 threads). Each figure is printed with the raw PostgreSQL
claim-and-complete rate measured in the same run, so a noisy machine moves
both. Prints a Markdown table for the README. ``--smoke`` (``make bench
SMOKE=1``): every measure on a few hundred jobs, one round, only to prove
that it all still runs; ``--db NAME``: another database.
"""
import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

import psutil
import psycopg2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'scripts'))
import ensure_db  # noqa: E402
from engine import job_row  # noqa: E402
from bench import claim_before, real_work  # noqa: E402
from bench.queue_db import (  # noqa: E402
    BENCH_DB, BULK_INSERT, MODEL, QueueWorker, connect, done_count, insert_backlog, query,
    reset_jobs, span_rate, use_database, wait_done,
)

# Sizes of the measures: rounds of the interleaved throughput measures (see
# main()), jobs of the 10,000-job case, the pending backlog, ids of the
# batch, latency samples, jobs of the memory measure.
FULL = dict(rounds=3, jobs=10000, backlog=1000000, batch_ids=1000000, job_size=100,
            samples=200, memory_jobs=100000, progress_steps=100000, progress_pairs=3,
            cpu_jobs=1000, orm_jobs=300)
SMOKE = dict(rounds=1, jobs=300, backlog=3000, batch_ids=3000, job_size=100,
             samples=20, memory_jobs=1000, progress_steps=10000, progress_pairs=1,
             cpu_jobs=40, orm_jobs=10)
# The work of one step of the progress measure's loop: hashing 16 KiB (about
# 9 us of CPU here; one ORM read and write of a record costs more), as an
# import that checksums the chunks of its file.
PROGRESS_CHUNK_BYTES = 16384

# A backlog of pending jobs and ``dependents`` waiting jobs, each waiting
# for one job of the backlog: its last ones in claim order (id order here:
# they wait all along), or its first ones (each of those, when done, makes
# its dependent pending: engine/store/dependencies.py).
def backlog_with_dependents(order):
    """The statement; ``order``: 'DESC' (the last jobs are waited for) or 'ASC'."""
    return (BULK_INSERT % {'model': '%(model)s', 'channel': "'root'", 'count': '%(backlog)s'}
            + ';\n' + job_row.insert_select({
                'uuid': 'md5(random()::text || n)', 'name': "'bench dependent'",
                'model_name': '%(model)s', 'method_name': "'noop'", 'user_id': '1',
                'company_id': '1', 'state': "'waiting'"}) + """
FROM generate_series(1, %(dependents)s) AS n;
INSERT INTO queue_job_dependency (job_id, depends_on_id)
SELECT dependent.id, needed.id
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM queue_job
      WHERE state = 'waiting') dependent
JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM queue_job
      WHERE state = 'pending' ORDER BY id """ + order + """ LIMIT %(dependents)s) needed USING (n);
UPDATE queue_job SET has_dependents = true
WHERE id IN (SELECT depends_on_id FROM queue_job_dependency)""")


def raw_claim_and_complete(jobs=10000, threads=4, before=False):
    """PostgreSQL alone: our claim statement then the done update, two
    transactions per job (the claim's not waiting for the disk, the done
    update's waiting), ``threads`` connections, no Odoo. ``before``:
    with the claim of 2026-12-01 instead (bench/claim_before.py)."""
    from odoo.addons.background_job.engine import store
    reset_jobs()
    insert_backlog(jobs)
    worker_id = query("INSERT INTO queue_job_worker (uuid, host, pid, threads) "
                      "VALUES ('raw', 'bench', 0, 4) RETURNING id")[0][0]

    errors = []

    def loop():
        try:
            claim_and_complete()
        except Exception as error:  # re-raised below: a dead thread is no rate
            errors.append(error)

    def claim_and_complete():
        # as the workers do: claims on a connection that does not wait for
        # the disk, the done update on one that does
        claims, jobs = connect(synchronous_commit=False), connect()
        claims.autocommit = True
        with claims.cursor() as claim_cr, jobs.cursor() as job_cr:
            store.prepare_claim(claim_cr)
            claim_before.prepare(claim_cr)
            while True:
                # the claim workers use while no channel is special
                if before:
                    job_id = claim_before.claim(claim_cr, worker_id)
                else:
                    row = store.claim_unlimited(claim_cr, worker_id)
                    job_id = row and row.id
                if job_id is None:
                    break
                store.mark_done(job_cr, job_id, None)
                jobs.commit()
        claims.close()
        jobs.close()

    started = time.monotonic()
    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    rate = jobs / (time.monotonic() - started)
    if errors:
        raise errors[0]
    reset_jobs()
    return rate


def enqueue_rate(registry, jobs=10000):
    """delay() in a loop, one transaction, committed."""
    from odoo import SUPERUSER_ID, api
    reset_jobs()
    with api.Environment.manage(), registry.cursor() as cr:
        records = api.Environment(cr, SUPERUSER_ID, {})[MODEL]
        started = time.monotonic()
        for _ in range(jobs):
            records.noop.delay()
        cr.commit()
        return jobs / (time.monotonic() - started)


def batch_split_seconds(registry, ids=1000000, job_size=100):
    """batch_execute_job over ``ids`` ids (one INSERT), rolled back."""
    from odoo import SUPERUSER_ID, api
    with api.Environment.manage(), registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        started = time.monotonic()
        env['queue.job'].batch_execute_job(MODEL, 'noop', range(1, ids + 1), job_size=job_size)
        elapsed = time.monotonic() - started
        cr.rollback()
        return elapsed


def execute_rate(jobs=10000):
    reset_jobs()
    insert_backlog(jobs)
    wait_done(jobs)
    return span_rate()


def backlog_rate(backlog=1000000, measured=10000):
    """Throughput of the first ``measured`` jobs with ``backlog`` pending,
    measured as execute_rate measures the 10,000-job case."""
    reset_jobs()
    insert_backlog(backlog)
    wait_done(measured)
    return span_rate(measured)


def dependents_rate(backlog=1000000, dependents=10000, started_by_measured=False):
    """backlog_rate with ``dependents`` waiting jobs in the table, waiting
    for the end of the backlog, or (``started_by_measured``) each for one
    of the ``dependents`` jobs measured, whose done makes it pending."""
    reset_jobs()
    query(backlog_with_dependents('ASC' if started_by_measured else 'DESC'),
          {'model': MODEL, 'backlog': backlog, 'dependents': dependents})
    query("SELECT pg_notify('background_job', '')")
    wait_done(dependents)
    rate = span_rate(dependents)
    promoted = query("SELECT count(*) FROM queue_job WHERE name = 'bench dependent' "
                     "AND state <> 'waiting'")[0][0]
    if promoted < (dependents if started_by_measured else 0):
        raise RuntimeError('only %d of %d dependents promoted' % (promoted, dependents))
    return rate


def latency(registry, samples=200):
    """Seconds from the enqueuing commit to the job's start, idle queue."""
    from odoo import SUPERUSER_ID, api
    reset_jobs()
    delays = []
    for _ in range(samples):
        with api.Environment.manage(), registry.cursor() as cr:
            job = api.Environment(cr, SUPERUSER_ID, {})[MODEL].noop.delay()
            job_id = job.id
            cr.commit()
            committed = time.time()
        while True:
            row = query("SELECT extract(epoch FROM date_started AT TIME ZONE 'UTC') "
                        "FROM queue_job WHERE id = %s AND date_started IS NOT NULL", (job_id,))
            if row:
                delays.append(float(row[0][0]) - committed)
                break
            time.sleep(0.001)
        time.sleep(0.02)
    return p50_p99(delays)


def p50_p99(delays):
    delays = sorted(delays)
    return delays[len(delays) // 2], delays[max(0, int(len(delays) * 0.99) - 1)]


def progress_overhead(registry, steps=100000, pairs=3):
    """A job whose loop of ``steps`` steps calls set_progress() at every
    step, against the same job without, one after the other on the idle
    worker: (median ratio, cost per call in us) of the loops' CPU times, as
    the job measures them (wall times swing with the shared machine's load;
    the few throttled writes wait for the disk, about 1 ms each, twice a
    second)."""
    from odoo import SUPERUSER_ID, api
    reset_jobs()

    def run(report, steps=steps, jobs=1):
        with api.Environment.manage(), registry.cursor() as cr:
            records = api.Environment(cr, SUPERUSER_ID, {})[MODEL]
            job_ids = [records.progress_loop.delay(
                steps, report=report, chunk_bytes=PROGRESS_CHUNK_BYTES).id for _ in range(jobs)]
            cr.commit()
        wait_done(done_count() + jobs)
        return float(query('SELECT result FROM queue_job WHERE id = %s', (job_ids[0],))[0][0])

    run(True, steps // 10, jobs=8)  # warm-up: the first job of each thread is slower
    ratios, per_call = [], []
    for _ in range(pairs):
        without, with_progress = run(False), run(True)
        ratios.append(with_progress / without)
        per_call.append((with_progress - without) / steps * 1e6)
    return statistics.median(ratios), statistics.median(per_call)


def memory_over(process, jobs=100000):
    """RSS of the worker process after 10% of the jobs and at the end."""
    reset_jobs()
    insert_backlog(jobs)
    first = None
    while True:
        done = done_count()
        if first is None and done >= jobs // 10:
            first = process.memory_info().rss
        if done >= jobs:
            return first, process.memory_info().rss
        time.sleep(0.5)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--smoke', action='store_true',
                        help='a few hundred jobs, one round: does it all still run?')
    parser.add_argument('--db', default=BENCH_DB, help='database (default: %(default)s)')
    options = parser.parse_args()
    sizes = SMOKE if options.smoke else FULL
    # connect() and QueueWorker serve this one database for the whole run.
    use_database(options.db)
    os.makedirs(os.path.join(ROOT, 'test-output'), exist_ok=True)
    subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', 'ensure_db.py'), options.db,
                    '--install=background_job,background_job_test'], check=True)
    import odoo
    odoo.tools.config.parse_config(['-c', ensure_db.CONFIG, '-d', options.db, '--log-level=warn'])
    registry = odoo.registry(options.db)
    query("UPDATE queue_job_worker SET date_stopped = now() WHERE date_stopped IS NULL")

    results = {}

    def measure(key, title, function, *args):
        print('measuring %s ...' % title, end=' ', flush=True)
        started = time.monotonic()
        results.setdefault(key, []).append(function(*args))
        print('%s (%.0f s)' % (format_value(results[key][-1]), time.monotonic() - started),
              flush=True)

    jobs, backlog, ids = sizes['jobs'], sizes['backlog'], sizes['batch_ids']
    # The machine is shared and its speed moves within a minute: the
    # throughputs are measured in interleaved rounds, each execution next to
    # a raw reference of its own, and reported as medians.
    # Today's claim and the claim of 2026-12-01 take turns at going first.
    for round_number in range(sizes['rounds']):
        for before in (False, True)[::1 if round_number % 2 == 0 else -1]:
            if before:
                measure('raw_before', 'the same with the claim of 2026-12-01',
                        raw_claim_and_complete, jobs, 4, True)
            else:
                measure('raw', 'raw PostgreSQL claim-and-complete', raw_claim_and_complete,
                        jobs)
        measure('enqueue', 'delay() in one transaction', enqueue_rate, registry, jobs)
        with QueueWorker():
            measure('execute', 'execution of {:,} no-op jobs'.format(jobs), execute_rate, jobs)
            measure('backlog', 'execution with {:,} pending'.format(backlog), backlog_rate,
                    backlog, jobs)
            measure('dependents', 'execution with {:,} pending and {:,} waiting dependents'
                    .format(backlog, jobs), dependents_rate, backlog, jobs)
            measure('starting', 'execution with {:,} pending, each job starting a dependent'
                    .format(backlog), dependents_rate, backlog, jobs, True)
            measure('progress', 'set_progress() at each of {:,} steps'.format(
                sizes['progress_steps']), progress_overhead, registry, sizes['progress_steps'],
                sizes['progress_pairs'])
        # real work (bench/real_work.py): job processes, each its own worker
        for key, title, function, args in real_work.measures(sizes)[:4]:
            measure(key, title, function, *args)
    for key, title, function, args in real_work.measures(sizes)[4:]:
        measure(key, title, function, *args)
    measure('batch', 'a batch of {:,} ids split'.format(ids), batch_split_seconds, registry,
            ids, sizes['job_size'])
    with QueueWorker() as worker:
        measure('latency', 'commit-to-start latency', latency, registry, sizes['samples'])
        measure('memory', 'worker memory over {:,} jobs'.format(sizes['memory_jobs']),
                memory_over, worker, sizes['memory_jobs'])
    reset_jobs()
    print_table(results, sizes)


def format_value(value):
    if isinstance(value, tuple):
        return '(%s)' % ', '.join('%.4g' % item for item in value)
    return '%.4g' % value


def print_table(results, sizes):
    raws, executes, enqueues = results['raw'], results['execute'], results['enqueue']
    befores = results['raw_before']
    before_ratio = statistics.median(r / b for r, b in zip(raws, befores))
    raw, execute, enqueue = (statistics.median(values) for values in (raws, executes, enqueues))
    execute_ratio = statistics.median(e / r for e, r in zip(executes, raws))
    enqueue_ratio = statistics.median(e / r for e, r in zip(enqueues, raws))
    (p50, p99), = results['latency']
    (rss_first, rss_last), = results['memory']
    backlogs = results['backlog']
    backlog = statistics.median(backlogs)
    backlog_ratio = statistics.median(b / e for b, e in zip(backlogs, executes))
    dependents, starting = results['dependents'], results['starting']
    dependents_ratio = statistics.median(d / b for d, b in zip(dependents, backlogs))
    starting_ratio = statistics.median(s / b for s, b in zip(starting, backlogs))
    batch, = results['batch']
    progress_ratio = statistics.median(ratio for ratio, _per_call in results['progress'])
    progress_call = statistics.median(per_call for _ratio, per_call in results['progress'])
    ids, jobs, memory_jobs = sizes['batch_ids'], sizes['jobs'], sizes['memory_jobs']

    def spread(values):
        return ' (%s)' % ', '.join('%.0f' % value for value in values)

    rows = [
        ('raw PostgreSQL claim + done (4 connections, reference)',
         '%.0f jobs/s' % raw + spread(raws), '1.00', ''),
        ('the same with the claim of 2026-12-01 (bench/claim_before.py)',
         '%.0f jobs/s' % statistics.median(befores) + spread(befores),
         'today\'s %.2f of it' % before_ratio, 'today\'s >= 1.00'),
        ('no-op jobs executed (queue-worker, 4 threads)', '%.0f jobs/s' % execute + spread(executes),
         '%.2f' % execute_ratio, '>= 1,000/s'),
        ('delay() in one transaction', '%.0f jobs/s' % enqueue + spread(enqueues),
         '%.2f' % enqueue_ratio, '>= 2,000/s'),
        ('batch_execute_job: {:,} ids into {:,} jobs'.format(ids, ids // sizes['job_size']),
         '%.1f s' % batch, '', 'seconds'),
        ('commit-to-start latency, idle queue', 'p50 %.1f ms, p99 %.1f ms' % (p50 * 1000, p99 * 1000),
         '', 'p50 <= 10 ms, p99 <= 100 ms'),
        ('executed with {:,} pending'.format(sizes['backlog']),
         '%.0f jobs/s' % backlog + spread(backlogs),
         '%.2f of %s case' % (backlog_ratio, '10k' if jobs == 10000 else '{:,}-job'.format(jobs)),
         'within 20%'),
        ('executed with {:,} pending and {:,} waiting dependents'.format(
            sizes['backlog'], jobs),
         '%.0f jobs/s' % statistics.median(dependents) + spread(dependents),
         '%.2f of the line above' % dependents_ratio, 'within 20%'),
        ('executed with {:,} pending, each job making a waiting dependent pending'.format(
            sizes['backlog']),
         '%.0f jobs/s' % statistics.median(starting) + spread(starting),
         '%.2f of the {:,}-pending line'.format(sizes['backlog']) % starting_ratio, ''),
        ('a job calling set_progress() at each of its {:,} steps (16 KiB hashed a step)'.format(
            sizes['progress_steps']), '%.1f us a call' % progress_call,
         '%.3f of the same job without' % progress_ratio, '< 1.05'),
        ('worker RSS after {:,} / {:,} jobs'.format(memory_jobs // 10, memory_jobs),
         '%.0f / %.0f MiB' % (rss_first / 2**20, rss_last / 2**20),
         '%+.1f%%' % (100.0 * (rss_last - rss_first) / rss_first), 'flat'),
    ]
    rows += real_work.table_rows(results, sizes)
    print('\nThroughputs: median of %d interleaved rounds (each round in brackets); '
          'ratios: median of the ratios within each round (to its raw reference, or '
          'the {:,}-pending case to its {:,}-job case).'.format(sizes['backlog'], jobs)
          % len(raws))
    print('\n| measure | result | ratio | target |\n|---|---|---|---|')
    for row in rows:
        print('| %s | %s | %s | %s |' % row)


if __name__ == '__main__':
    main()
