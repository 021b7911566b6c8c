"""Channels: their capacities, and the counts of their running jobs."""
from __future__ import annotations

from typing import Iterable

# The channels whose running jobs fill their capacity. Only channels with a
# capacity are counted: no work when none has one. Channels without a row,
# or with capacity 0, have no limit. The claim (store/jobs.py) and the idle
# worker's sleep (NEXT_ETA) leave their jobs out.
FULL_CHANNELS = """
    SELECT c.name FROM queue_job_channel c
    WHERE c.capacity > 0
      AND (SELECT count(*) FROM queue_job running
           WHERE running.state = 'started' AND running.channel = c.name) >= c.capacity"""

# The channels with a capacity: the claim that needs no capacity check
# (store/jobs.py PREPARE_CLAIM_UNLIMITED) leaves all their jobs out.
LIMITED_CHANNELS = 'SELECT name FROM queue_job_channel WHERE capacity > 0'
LIMITED_CHANNELS_EXIST = 'SELECT EXISTS (SELECT 1 FROM queue_job_channel WHERE capacity > 0)'

# Right after claiming in a channel with a capacity, in the same READ
# COMMITTED transaction: lock the channel's row, then count its running
# jobs. The lock makes concurrent claimers of the channel take turns until
# commit, and the count, a statement of its own, runs on a snapshot taken
# after the lock, so it sees every earlier claim: above capacity, the
# claimer rolls its claim back and no channel is ever over its capacity.
# Unlimited channels never take this lock.
CAPACITY_CHECK = """
SELECT 1 FROM queue_job_channel WHERE name = %(channel)s FOR NO KEY UPDATE;
SELECT count(*) FROM queue_job WHERE state = 'started' AND channel = %(channel)s
"""

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


def limited_channels_exist(cr) -> bool:
    cr.execute(LIMITED_CHANNELS_EXIST)
    return cr.fetchone()[0]


def over_capacity(cr, channel: str, capacity: int) -> bool:
    """In the claim's transaction: whether the channel now runs more than
    ``capacity`` jobs, the claim included (see CAPACITY_CHECK)."""
    cr.execute(CAPACITY_CHECK, {'channel': channel})
    return cr.fetchone()[0] > capacity


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
