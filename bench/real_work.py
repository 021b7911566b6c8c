"""Real work in ``make bench``: CPU-bound jobs and ORM jobs with 1 and 2
job processes (``odoo queue-worker --processes N``), and the memory of the
job processes over many jobs, with and without a leaking job.

The jobs are background.job.test.record methods of the test addon
(tests/addons/background_job_test/models/processes_jobs.py):
``processes_cpu`` (about 20 ms of pure Python on one core),
``processes_orm`` (reads 100 records, writes each once), ``processes_leak``.
"""
import time

from engine import job_row, serialization
from bench.queue_db import MODEL, QueueWorker, done_count, query, reset_jobs, span_rate, wait_done

CPU_MILLISECONDS = 20
ORM_RECORDS = 100
# The leaking job's share of the memory measure: one job in LEAK_EVERY
# keeps LEAK_MB for the life of its process; limit_memory_soft is
# LEAK_LIMIT_MB above the process's memory before the run.
LEAK_EVERY = 10000
LEAK_MB = 100
LEAK_LIMIT_MB = 150
MB = 1024 * 1024


# Jobs of any method, written as delay() writes them, in one statement.
ENQUEUE_CALLS = job_row.insert_select({
    'uuid': 'md5(random()::text || call.n)', 'name': "'bench'", 'model_name': '%(model)s',
    'method_name': 'call.method', 'args': 'call.args', 'user_id': '1', 'company_id': '1',
}) + """
FROM unnest(%(methods)s::text[], %(args)s::text[]) WITH ORDINALITY AS call(method, args, n)"""


def enqueue_calls(calls):
    """Enqueue ``MODEL.<method>(*args)`` for each (method, args), in order."""
    query(ENQUEUE_CALLS, {'model': MODEL, 'methods': [method for method, _ in calls],
                          'args': [serialization.dumps_arguments(args, {})[0]
                                   for _, args in calls]})
    query("SELECT pg_notify('background_job', '')")


def cpu_rate(processes, jobs):
    """CPU-bound jobs per second with ``processes`` job processes."""
    reset_jobs()
    with QueueWorker(processes):
        enqueue_calls([('processes_cpu', (CPU_MILLISECONDS,))] * jobs)
        wait_done(jobs)
    return span_rate()


def orm_rate(processes, jobs):
    """Records per second read and written by ORM jobs of ORM_RECORDS each."""
    reset_jobs()
    ids = [row[0] for row in query(
        "INSERT INTO background_job_test_record (name, value) SELECT 'orm ' || n, 0 "
        "FROM generate_series(1, %s) n RETURNING id", (jobs * ORM_RECORDS,))]
    try:
        with QueueWorker(processes):
            enqueue_calls([('processes_orm', (ids[n:n + ORM_RECORDS],))
                           for n in range(0, len(ids), ORM_RECORDS)])
            wait_done(jobs)
        written = query('SELECT count(*) FROM background_job_test_record '
                        'WHERE id = ANY(%s) AND value > 0', (ids,))[0][0]
        if written != len(ids):
            raise RuntimeError('ORM jobs wrote %d of %d records' % (written, len(ids)))
        return span_rate() * ORM_RECORDS
    finally:
        query('DELETE FROM background_job_test_record WHERE id = ANY(%s)', (ids,))


def job_processes_memory(jobs, leaking):
    """(RSS of the job process after 10% of ``jobs`` no-op jobs, its
    largest RSS sampled, processes that ran them) with one job process; with
    ``leaking``, one job in LEAK_EVERY leaks LEAK_MB and limit_memory_soft
    is LEAK_LIMIT_MB above the job process's memory at start."""
    reset_jobs()
    options = []
    if leaking:
        with QueueWorker(1) as probe:
            start_rss = sum(child.memory_info().rss for child in probe.children())
        options = ['--limit-memory-soft=%d' % (start_rss + LEAK_LIMIT_MB * MB),
                   '--limit-memory-hard=%d' % (start_rss + 10 * LEAK_LIMIT_MB * MB)]
    with QueueWorker(1, options) as worker:
        every = min(LEAK_EVERY, max(2, jobs // 10))
        enqueue_calls([('processes_leak', ('bench-leak', LEAK_MB)) if leaking and n % every == 0
                       else ('noop', ()) for n in range(1, jobs + 1)])
        first = largest = None
        deadline = time.monotonic() + 1800
        while True:
            rss = sum(child.memory_info().rss for child in _children(worker))
            largest = max(largest or 0, rss)
            done = done_count()
            if first is None and done >= jobs // 10:
                first = rss
            if done >= jobs:
                break
            if time.monotonic() > deadline:
                raise RuntimeError('only %d of %d jobs done' % (done, jobs))
            time.sleep(0.2)
        ran = query('SELECT count(DISTINCT worker.pid) FROM queue_job job '
                    'JOIN queue_job_worker worker ON worker.id = job.worker_id')[0][0]
    return first, largest, ran


def _children(process):
    try:
        return process.children()
    except Exception:  # psutil.NoSuchProcess while it exits
        return []


def measures(sizes):
    """(key, title, function, args) of the real-work measures."""
    cpu_jobs, orm_jobs, memory_jobs = sizes['cpu_jobs'], sizes['orm_jobs'], sizes['memory_jobs']
    return [
        ('cpu_1', 'CPU-bound jobs ({} ms), 1 job process'.format(CPU_MILLISECONDS),
         cpu_rate, (1, cpu_jobs)),
        ('cpu_2', 'CPU-bound jobs ({} ms), 2 job processes'.format(CPU_MILLISECONDS),
         cpu_rate, (2, cpu_jobs)),
        ('orm_1', 'ORM jobs, 1 job process', orm_rate, (1, orm_jobs)),
        ('orm_2', 'ORM jobs, 2 job processes', orm_rate, (2, orm_jobs)),
        ('memory_plain', 'job process memory over {:,} jobs'.format(memory_jobs),
         job_processes_memory, (memory_jobs, False)),
        ('memory_leak', 'job process memory over {:,} jobs, leaking'.format(memory_jobs),
         job_processes_memory, (memory_jobs, True)),
    ]


def table_rows(results, sizes):
    """Rows (measure, result, ratio, target) of the README table."""
    import statistics
    cpu_1, cpu_2 = statistics.median(results['cpu_1']), statistics.median(results['cpu_2'])
    cpu_ratio = statistics.median(b / a for a, b in zip(results['cpu_1'], results['cpu_2']))
    orm_1, orm_2 = statistics.median(results['orm_1']), statistics.median(results['orm_2'])
    orm_ratio = statistics.median(b / a for a, b in zip(results['orm_1'], results['orm_2']))
    (plain_first, plain_max, _), = results['memory_plain']
    (leak_first, leak_max, leak_processes), = results['memory_leak']
    memory_jobs = sizes['memory_jobs']
    return [
        ('CPU-bound jobs (%d ms of Python each), 1 job process of 4 threads' % CPU_MILLISECONDS,
         '%.1f jobs/s' % cpu_1, '1.00', ''),
        ('the same, 2 job processes (`processes = 2`)', '%.1f jobs/s' % cpu_2,
         '%.2f of 1 process' % cpu_ratio, '>= 1.6 on 2 cores'),
        ('ORM jobs (read %d records, write each), 1 job process' % ORM_RECORDS,
         '%.0f records/s' % orm_1, '1.00', ''),
        ('the same, 2 job processes', '%.0f records/s' % orm_2,
         '%.2f of 1 process' % orm_ratio, ''),
        ('job process RSS over {:,} no-op jobs: after 10% / largest'.format(memory_jobs),
         '%.0f / %.0f MiB' % (plain_first / MB, plain_max / MB), '', 'flat'),
        ('the same, one job in {:,} leaking {} MiB, limit_memory_soft {} MiB above start'.format(
            min(LEAK_EVERY, max(2, memory_jobs // 10)), LEAK_MB, LEAK_LIMIT_MB),
         '%.0f / %.0f MiB, %d job processes' % (leak_first / MB, leak_max / MB, leak_processes),
         '', 'bounded: recycled'),
    ]
