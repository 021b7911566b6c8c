"""The backend's overview of the queue, put together from the rows of
engine/store/overview.py: per channel its open jobs, the jobs done in the
last hour and the age of its oldest due pending job; per minute of the last
hour the jobs done and failed. No SQL, no ORM."""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Tuple

from . import states
from .store.overview import WINDOW_MINUTES

# How a state is counted per channel (the overview's columns).
COUNTED = {states.PENDING: 'pending', states.STARTED: 'running', states.FAILED: 'failed'}


def _channel(name: str) -> dict:
    return {'name': name, 'capacity': 0, 'paused': None, 'pending': 0, 'running': 0,
            'failed': 0, 'done_last_hour': 0, 'oldest_pending_seconds': None}


def channels(known: Iterable[Tuple[str, int, Optional[bool]]],
             open_counts: Iterable[Tuple[str, str, int, Optional[float]]],
             finished: Iterable[Tuple[str, str, int, int]]) -> List[dict]:
    """One dict per channel, by name: the channels of ``known`` ((name,
    capacity, paused or None when channels cannot be paused)) and those
    only jobs name.

    ``open_counts``: store.open_job_counts rows; ``finished``:
    store.finished_by_minute rows. ``oldest_pending_seconds`` is None when
    no pending job is due.
    """
    by_name: Dict[str, dict] = {}
    for name, capacity, paused in known:
        by_name[name] = dict(_channel(name), capacity=capacity, paused=paused)
    for state, name, count, oldest in open_counts:
        channel = by_name.setdefault(name, _channel(name))
        if state in COUNTED:
            channel[COUNTED[state]] += count
        if state == states.PENDING and oldest is not None:
            channel['oldest_pending_seconds'] = max(0.0, float(oldest))
    for name, state, _minutes_ago, count in finished:
        if state == states.DONE:
            by_name.setdefault(name, _channel(name))['done_last_hour'] += count
    return [by_name[name] for name in sorted(by_name)]


def minutes(finished: Iterable[Tuple[str, str, int, int]]) -> List[dict]:
    """WINDOW_MINUTES buckets, oldest first: {'minutes_ago', 'done',
    'failed'} of every channel (the last bucket: the last 60 seconds)."""
    buckets = [{'minutes_ago': ago, 'done': 0, 'failed': 0}
               for ago in range(WINDOW_MINUTES - 1, -1, -1)]
    for _name, state, minutes_ago, count in finished:
        if state in (states.DONE, states.FAILED) and 0 <= minutes_ago < WINDOW_MINUTES:
            buckets[WINDOW_MINUTES - 1 - minutes_ago][state] += count
    return buckets
