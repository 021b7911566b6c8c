"""Channels: pauses, capacities and rate limits, the checks a claim makes
against them, and the counts of their running jobs.

Channels nest by their dotted names: ``root.mail`` is a subchannel of
``root``. A channel's pause, capacity and rate limit hold for the jobs of
the channel and of all its subchannels (a job of ``root.mail`` counts
against ``root``'s capacity too). A channel is *special* when it has any of
them; while no channel is special, claims check nothing (store/runs.py).
"""
from __future__ import annotations

import re
from typing import Iterable

from ..job_row import NOW_UTC

# Names are dotted under root; a part is letters, digits, '_' or '-'.
NAME_PATTERN = re.compile(r'root(\.[A-Za-z0-9_-]+)*\Z')


def check_name(name) -> str:
    """``name`` if it is a channel name, else ValueError saying why."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError('channel %r is not a dotted name under root (e.g. root.mail; '
                         'parts of letters, digits, _ or -)' % (name,))
    return name


def ancestors(name: str) -> list:
    """The channel's ancestors, root first, then the channel itself."""
    parts = check_name(name).split('.')
    return ['.'.join(parts[:n]) for n in range(1, len(parts) + 1)]


def within(channel: str, ancestor: str) -> str:
    """SQL: the channel expression ``channel`` is ``ancestor`` or one of its
    subchannels. left(), not LIKE: '_' in a name would be a wildcard."""
    return "({c} = {a} OR left({c}, length({a}) + 1) = {a} || '.')".format(c=channel, a=ancestor)


# Of the channel row ``c``.
SPECIAL = '(c.paused OR c.capacity > 0 OR c.rate_limit > 0)'
SPECIAL_CHANNELS_EXIST = 'SELECT EXISTS (SELECT 1 FROM queue_job_channel c WHERE %s)' % SPECIAL
# Starts recorded in the channel's rate window (rate_starts: the start times
# of its and its subchannels' jobs, appended under the row's lock by
# CHANNEL_CHECK, trimmed to the window).
RECENT_STARTS = ('(SELECT count(*) FROM unnest(c.rate_starts) AS started '
                 'WHERE started > {now} - make_interval(secs => c.rate_period))').format(now=NOW_UTC)
RUNNING = ("(SELECT count(*) FROM queue_job running "
           "WHERE running.state = 'started' AND %s)" % within('running.channel', 'c.name'))

# The channels where no job may start now, on the statement's snapshot:
# paused, full (the running jobs of the channel and its subchannels fill its
# capacity) or at their rate limit. Only special channels are looked at. As
# an array, computed once per statement (an uncorrelated subquery is an
# InitPlan): the claim and the idle worker's sleep match each candidate job
# against it (blocked()).
BLOCKED_CHANNELS = """(SELECT coalesce(array_agg(c.name), '{{}}') FROM queue_job_channel c
 WHERE {special} AND (c.paused
       OR (c.capacity > 0 AND {running} >= c.capacity)
       OR (c.rate_limit > 0 AND {recent} >= c.rate_limit)))""".format(
    special=SPECIAL, running=RUNNING, recent=RECENT_STARTS)


def blocked(job_channel: str) -> str:
    """SQL: the job channel expression is a blocked channel or under one."""
    return 'EXISTS (SELECT 1 FROM unnest({blocked}) AS blocked(name) WHERE {within})'.format(
        blocked=BLOCKED_CHANNELS, within=within(job_channel, 'blocked.name'))


def limited(job_channel: str) -> str:
    """SQL: the job's channel or an ancestor is special: its claim needs
    CHANNEL_CHECK."""
    return 'EXISTS (SELECT 1 FROM queue_job_channel c WHERE {special} AND {within})'.format(
        special=SPECIAL, within=within(job_channel, 'c.name'))


# When a channel at its rate limit lets the next job start: when the oldest
# of its last rate_limit starts leaves the window. The idle worker sleeps
# until then (store/jobs.py NEXT_ETA).
RATE_REOPENS = """(SELECT min((SELECT started FROM unnest(c.rate_starts) AS started
                   ORDER BY started DESC OFFSET c.rate_limit - 1 LIMIT 1)
                  + make_interval(secs => c.rate_period))
 FROM queue_job_channel c WHERE c.rate_limit > 0 AND {recent} >= c.rate_limit)""".format(
    recent=RECENT_STARTS)

# Right after a claim of a limited job, in the same READ COMMITTED
# transaction: lock the special rows among the job's channel and its
# ancestors, in name order (every claimer locks in the same order: no
# deadlock), then, in a statement of its own whose snapshot is taken after
# the locks and so sees every earlier claim, decide: refused when one of
# them is paused, runs more jobs than its capacity (the claim included) or
# has rate_limit starts in its window already; else the claim's start is
# recorded in the rate windows. A start is the claim's now() (date_started),
# taken when its transaction began: a claim that began earlier may lock the
# row after one that began later, so the window counts every start after
# now() - period, later ones included, and keeps two periods of starts. Refused, the claimer rolls back: the limits
# hold across every worker and server. Unlimited channels never take these
# locks.
CHANNEL_CHECK = """
SELECT 1 FROM queue_job_channel c WHERE {special} AND {within}
ORDER BY c.name FOR NO KEY UPDATE;
WITH limits AS (
    SELECT c.name, c.rate_limit > 0 AS rated,
           c.paused OR (c.capacity > 0 AND {running} > c.capacity)
           OR (c.rate_limit > 0 AND {recent} >= c.rate_limit) AS refused
    FROM queue_job_channel c WHERE {special} AND {within}
), recorded AS (
    UPDATE queue_job_channel c
    SET rate_starts = ARRAY(SELECT started FROM unnest(c.rate_starts) AS started
                            WHERE started > {now} - make_interval(secs => 2 * c.rate_period))
                      || {now}
    FROM limits
    WHERE c.name = limits.name AND limits.rated AND NOT EXISTS (
        SELECT 1 FROM limits WHERE refused)
)
SELECT coalesce(bool_or(refused), false) FROM limits
""".format(special=SPECIAL, within=within('%(channel)s', 'c.name'), running=RUNNING,
           recent=RECENT_STARTS, now=NOW_UTC)

# Config-file channel capacities become rows the first time; after that the
# row (edited by admins) wins.
ENSURE_CHANNEL = """
INSERT INTO queue_job_channel (name, capacity) VALUES (%(name)s, %(capacity)s)
ON CONFLICT (name) DO NOTHING
"""

# Channels migrated from OCA queue_job take OCA's capacities, also over
# the rows the addon's install made (the root channel).
SET_CAPACITY = """
INSERT INTO queue_job_channel (name, capacity) VALUES (%(name)s, %(capacity)s)
ON CONFLICT (name) DO UPDATE SET capacity = EXCLUDED.capacity
"""

# Running and pending jobs per channel, for the channel screen: one scan of
# the partial indexes on started and pending jobs, not one count per row.
CHANNEL_LOAD = """
SELECT channel, count(*) FILTER (WHERE state = 'started'),
       count(*) FILTER (WHERE state = 'pending')
FROM queue_job
WHERE state IN ('started', 'pending') AND channel = ANY(%(channels)s)
GROUP BY channel
"""


def special_channels_exist(cr) -> bool:
    cr.execute(SPECIAL_CHANNELS_EXIST)
    return cr.fetchone()[0]


def refused(cr, channel: str) -> bool:
    """In the claim's transaction: whether a limit of the channel or of an
    ancestor refuses the claim; if not, the start is recorded in their rate
    windows (see CHANNEL_CHECK)."""
    cr.execute(CHANNEL_CHECK, {'channel': channel})
    return cr.fetchone()[0]


def ensure_channels(cr, capacities: dict) -> None:
    for name, capacity in capacities.items():
        cr.execute(ENSURE_CHANNEL, {'name': name, 'capacity': capacity})


def set_capacities(cr, capacities: dict) -> None:
    for name, capacity in capacities.items():
        cr.execute(SET_CAPACITY, {'name': name, 'capacity': capacity})


def channel_load(cr, channels: Iterable[str]) -> dict:
    """{channel: (running, pending)} for the named channels that have jobs."""
    cr.execute(CHANNEL_LOAD, {'channels': list(channels)})
    return {name: (running, pending) for name, running, pending in cr.fetchall()}
