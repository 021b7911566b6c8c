"""The queue at a glance: open jobs per channel and state (the backend's
overview and the metrics scrape, engine/metrics.py), and the jobs finished
in the last hour (the overview's chart).

Both statements read only the rows they count, through a partial or small
index of engine/schema.py, so they stay fast with 1,000,000 rows in
``queue_job`` (``make bench-ui``). A ``Scope`` narrows them to the rows a
user may read: the record rules' SQL as the ORM builds it, whose
parameters are positional; so are the statements' own.
"""
from __future__ import annotations

import dataclasses
from typing import List, Sequence, Tuple

from ..job_row import NOW_UTC

# The states whose rows are few (the backlog, running jobs, failures).
OPEN_STATES = ('waiting', 'pending', 'started', 'failed')
# The window of the overview's "done in the last hour" and of its chart.
WINDOW_MINUTES = 60


@dataclasses.dataclass(frozen=True)
class Scope:
    """The rows of ``queue_job`` a reader may see: a FROM list that names
    queue_job (and the tables the record rules join) and a WHERE condition
    with its positional parameters."""
    tables: str = 'queue_job'
    where: str = 'TRUE'
    params: Sequence = ()


EVERY_JOB = Scope()

# Jobs per state and channel of the open states, and per channel the age
# of the oldest pending job whose eta has passed (seconds; NULL when none is
# due). A bitmap scan of queue_job_state_company_idx for those states, then
# their rows for the channel: the done rows, most of the table, are never
# read. Columns are qualified: the scope may join other tables.
OPEN_JOB_COUNTS = """
SELECT queue_job.state, queue_job.channel, count(*),
       extract(epoch FROM {now} - min(queue_job.eta) FILTER (
           WHERE queue_job.state = 'pending' AND queue_job.eta <= {now}))
FROM {{tables}} WHERE queue_job.state = ANY(%s) AND ({{where}})
GROUP BY queue_job.state, queue_job.channel
""".format(now=NOW_UTC)

# Jobs done or failed in the last WINDOW_MINUTES, per channel, state and
# minute (0: the last 60 seconds; a job that finished after this
# transaction began counts in it): a range scan of queue_job_date_done_idx,
# which holds only done and failed rows, then those rows for their channel.
# Its cost grows with the jobs finished in the window, not with the table.
FINISHED_BY_MINUTE = """
SELECT queue_job.channel, queue_job.state,
       greatest(0, least(floor(extract(epoch FROM {now} - queue_job.date_done) / 60)::integer,
                         {last_minute})) AS minutes_ago,
       count(*)
FROM {{tables}}
WHERE queue_job.state IN ('done', 'failed')
  AND queue_job.date_done >= {now} - make_interval(mins => {window})
  AND ({{where}})
GROUP BY 1, 2, 3
""".format(now=NOW_UTC, window=WINDOW_MINUTES, last_minute=WINDOW_MINUTES - 1)


def open_job_counts_statement(scope: Scope = EVERY_JOB) -> str:
    """OPEN_JOB_COUNTS for ``scope``; its parameters: open_job_counts_params."""
    return OPEN_JOB_COUNTS.format(tables=scope.tables, where=scope.where)


def open_job_counts_params(scope: Scope = EVERY_JOB) -> list:
    return [list(OPEN_STATES), *scope.params]


def open_job_counts(cr, scope: Scope = EVERY_JOB) -> List[Tuple[str, str, int, float]]:
    """[(state, channel, count, oldest due pending age in s or None)]."""
    cr.execute(open_job_counts_statement(scope), open_job_counts_params(scope))
    return cr.fetchall()


def finished_by_minute(cr, scope: Scope = EVERY_JOB) -> List[Tuple[str, str, int, int]]:
    """[(channel, state, minutes ago, count)] of the jobs done or failed in
    the last WINDOW_MINUTES minutes."""
    cr.execute(FINISHED_BY_MINUTE.format(tables=scope.tables, where=scope.where),
               list(scope.params))
    return cr.fetchall()
