"""Prometheus metrics of one database's queue (text exposition format
0.0.4) and the worker health check: SQL and formatting, no ORM.

The statements must stay fast with 1,000,000 rows in ``queue_job``
(``bench/metrics.py``), so each is shaped on an index of engine/schema.py.
"""
from typing import Iterable, List, Optional, Tuple

from .job_row import NOW_UTC
from .store import overview

# Done and cancelled rows are most of the table: the finished states
# (failed too, so that done and failed sit side by side) are counted per
# state only; the open states (store/overview.py OPEN_STATES: the backlog,
# running jobs, failures) per channel.
FINISHED_STATES = ('done', 'failed', 'cancelled')

# Jobs by state (and channel for the open states), and per channel the age
# of the oldest pending job whose eta has passed. The first branch is the
# backend overview's OPEN_JOB_COUNTS over every job: it reads only open
# rows. Each finished state is a count of its own from
# queue_job_state_company_idx alone: a parallel index-only scan that reads no
# row, twice as fast as one GROUP BY over both states (1,000,000 rows,
# bench/metrics.py); grouping them by channel would read every row.
JOB_COUNTS = overview.open_job_counts_statement() + ''.join("""UNION ALL
SELECT '{state}', NULL, (SELECT count(*) FROM queue_job WHERE state = '{state}'), NULL
""".format(state=state) for state in FINISHED_STATES)

# Live and dead workers and the threads of the live ones. queue_job_worker
# is small (the cleanup cron removes old rows): a plain scan. "Live" is the
# reaper's own rule: a heartbeat within dead_after seconds.
WORKER_COUNTS = """
SELECT count(*) FILTER (WHERE live), count(*) FILTER (WHERE NOT live),
       coalesce(sum(threads) FILTER (WHERE live), 0)
FROM (SELECT threads, last_beat >= {now} - make_interval(secs => %(dead_after)s) AS live
      FROM queue_job_worker WHERE date_stopped IS NULL) AS worker
""".format(now=NOW_UTC)

# The health check: a worker of this host (of this process, with a pid)
# whose heartbeat is fresh. Same small table, same rule as WORKER_COUNTS.
FRESH_WORKER = """
SELECT EXISTS (
    SELECT 1 FROM queue_job_worker
    WHERE host = %(host)s AND (%(pids)s::integer[] IS NULL OR pid = ANY(%(pids)s::integer[]))
      AND date_stopped IS NULL
      AND last_beat >= {now} - make_interval(secs => %(max_age)s))
""".format(now=NOW_UTC)

# Whether this database has the job table (the addon installed), on the
# scrape's own cursor: cheaper than a connection of its own per scrape.
HAS_QUEUE = "SELECT to_regclass('queue_job') IS NOT NULL"

CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

# (name, type, help) of each family, in the order they are written.
FAMILIES = (
    ('background_job_jobs', 'gauge',
     'Jobs waiting, pending, started (running) or failed, by channel and state.'),
    ('background_job_finished_jobs', 'gauge',
     'Done, failed and cancelled jobs in the table, by state. Not a counter: '
     'the cleanup cron removes done and cancelled jobs after keep_days, a '
     'requeue takes a job out of failed.'),
    ('background_job_running_jobs', 'gauge', 'Jobs running now (state started).'),
    ('background_job_oldest_pending_seconds', 'gauge',
     'Age of the oldest pending job whose eta has passed, by channel (0: none).'),
    ('background_job_workers', 'gauge',
     'Workers (one per database and process) by status: live, or dead '
     '(no heartbeat for dead_after seconds).'),
    ('background_job_worker_threads', 'gauge', 'Job threads of the live workers.'),
)

Sample = Tuple[str, dict, float]


def has_queue(cr) -> bool:
    cr.execute(HAS_QUEUE)
    return cr.fetchone()[0]


def collect(cr, dead_after: float) -> List[Sample]:
    """The samples of one database, from JOB_COUNTS and WORKER_COUNTS."""
    cr.execute(JOB_COUNTS, overview.open_job_counts_params())
    samples: List[Sample] = []
    finished = dict.fromkeys(FINISHED_STATES, 0)  # no rows is a 0, not a missing series
    oldest = {}
    running = 0
    for state, channel, count, age in cr.fetchall():
        if channel is None:
            finished[state] = count
            continue
        samples.append(('background_job_jobs', {'channel': channel, 'state': state}, count))
        if state == 'started':
            running += count
        if state == 'pending':
            oldest[channel] = float(age or 0.0)
    samples.extend(('background_job_finished_jobs', {'state': state}, count)
                   for state, count in finished.items())
    samples.append(('background_job_running_jobs', {}, running))
    samples.extend(('background_job_oldest_pending_seconds', {'channel': channel}, age)
                   for channel, age in sorted(oldest.items()))
    cr.execute(WORKER_COUNTS, {'dead_after': dead_after})
    live, dead, threads = cr.fetchone()
    samples += [('background_job_workers', {'status': 'live'}, live),
                ('background_job_workers', {'status': 'dead'}, dead),
                ('background_job_worker_threads', {}, threads)]
    return samples


def _escape(value: str) -> str:
    return value.replace('\\', '\\\\').replace('\n', '\\n').replace('"', '\\"')


def _number(value: float) -> str:
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


def render(samples: Iterable[Sample]) -> str:
    """The exposition text: ``# HELP`` and ``# TYPE`` then the family's lines."""
    samples = list(samples)
    lines = []
    for name, kind, text in FAMILIES:
        lines += ['# HELP %s %s' % (name, text), '# TYPE %s %s' % (name, kind)]
        for sample_name, labels, value in sorted(
                (s for s in samples if s[0] == name), key=lambda s: sorted(s[1].items())):
            label_text = ','.join('%s="%s"' % (key, _escape(str(labels[key])))
                                  for key in sorted(labels))
            lines.append('%s%s %s' % (sample_name, '{%s}' % label_text if label_text else '',
                                      _number(value)))
    return '\n'.join(lines) + '\n'


def worker_is_fresh(cr, host: str, pids: Optional[list], max_age: float) -> bool:
    """Whether a worker of ``host`` (and of one of ``pids``) beat within
    ``max_age`` s."""
    cr.execute(FRESH_WORKER, {'host': host, 'pids': pids, 'max_age': max_age})
    return cr.fetchone()[0]
