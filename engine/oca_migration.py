"""OCA queue_job 11.0's jobs and channels, as rows of this addon.

Pure Python (no Odoo import): what an OCA row becomes (convert_job), how
OCA's channel capacities read (parse_channels), which open jobs keep an
identity key they share (keep_identity_keys). The command that moves the
rows is cli/migrate_oca.py; its statements are in engine/store/oca.py.

OCA and this addon count differently:
- ``max_retries``: OCA counts tries (5: at most 5 runs; 0: retry forever),
  this addon retries after the first run (5: at most 6 runs; 0: never).
  A job keeps its number of runs: OCA's N becomes N - 1, OCA's 0 becomes
  FOREVER_RETRIES.
- ``retry``: both count the runs that failed or were cut off; kept as is.
"""
from __future__ import annotations

import datetime
import json
from typing import Any, Iterable, Mapping, Optional

from . import defaults, serialization, states

# OCA state -> this addon's. Enqueued jobs were handed to OCA's runner but
# not started; started ones were cut off when OCA stopped: both run again.
STATES = {
    'pending': states.PENDING,
    'enqueued': states.PENDING,
    'started': states.PENDING,
    'failed': states.FAILED,
    'done': states.DONE,
}
OPEN_STATES = ('pending', 'enqueued', 'started')
# OCA's max_retries 0 ("retry forever") as a count this addon can hold.
FOREVER_RETRIES = 1000000
# OCA's runner without a channels option: the root channel, one at a time.
OCA_DEFAULT_CHANNELS = 'root:1'


class _Records:
    """A recordset stored by OCA, as serialization.dumps writes one (it
    reads ``_name`` and ``ids`` only)."""

    def __init__(self, model: str, ids: list):
        self._name = model
        self.ids = list(ids)


def _oca_value(obj: dict) -> Any:
    """OCA's JobEncoder objects (``_type``) as Python values."""
    kind = obj.get('_type')
    if kind == 'odoo_recordset':
        # OCA also stores the user that built the recordset; a job runs as
        # its user anyway (README: Migrating from OCA queue_job).
        return _Records(obj['model'], obj['ids'])
    if kind == 'datetime_isoformat':
        return datetime.datetime.fromisoformat(obj['value'])
    if kind == 'date_isoformat':
        return datetime.date.fromisoformat(obj['value'][:10])
    return obj


def convert_arguments(args_text: Optional[str], kwargs_text: Optional[str],
                      describe: str = 'job') -> tuple:
    """OCA's ``args`` and ``kwargs`` JSON -> this addon's (serialization.py);
    ValueError naming ``describe`` for what cannot be converted."""
    try:
        args = json.loads(args_text or '[]', object_hook=_oca_value)
        kwargs = json.loads(kwargs_text or '{}', object_hook=_oca_value)
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise ValueError('OCA arguments are not a JSON list and object: %.80s %.80s'
                             % (args_text, kwargs_text))
        return serialization.dumps_arguments(tuple(args), kwargs)
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError('%s: %s' % (describe, error)) from None


def record_ids(text: Optional[str]) -> str:
    """OCA's ``record_ids`` (a JSON list) as this addon stores it."""
    ids = json.loads(text or '[]')
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise ValueError('OCA record_ids is not a JSON list of ids: %.80s' % text)
    return json.dumps(ids)


def max_retries(oca_max_retries: Optional[int]) -> int:
    """OCA's tries -> this addon's retries (see the module's docstring)."""
    if oca_max_retries is None:
        return defaults.MAX_RETRIES
    if oca_max_retries <= 0:
        return FOREVER_RETRIES
    return oca_max_retries - 1


def split_exception(exc_info: Optional[str]) -> tuple:
    """(type, message) from the last line of an OCA traceback
    (``ValueError: boom``); (None, None) without one."""
    lines = [line for line in (exc_info or '').strip().splitlines() if line.strip()]
    if not lines:
        return None, None
    kind, separator, message = lines[-1].partition(': ')
    if not separator or ' ' in kind.strip():
        return None, lines[-1].strip()
    return kind.strip(), message.strip()


def convert_job(row: Mapping[str, Any]) -> dict:
    """An OCA queue_job row (its columns by name) -> the columns of this
    addon's row (engine/store/oca.py MIGRATED_COLUMNS)."""
    describe = 'OCA job %s (%s.%s)' % (row['uuid'], row['model_name'], row['method_name'])
    if row['state'] not in STATES:
        raise ValueError('%s: unknown OCA state %r' % (describe, row['state']))
    missing = [name for name in ('uuid', 'model_name', 'method_name', 'user_id') if not row[name]]
    if missing:
        raise ValueError('%s: no %s' % (describe, ', '.join(missing)))
    args, kwargs = convert_arguments(row['args'], row['kwargs'], describe)
    state = STATES[row['state']]
    exc_type, exc_message = split_exception(row['exc_info'])
    ended = state in (states.DONE, states.FAILED)
    return {
        'uuid': row['uuid'],
        'name': row['name'],
        'model_name': row['model_name'],
        'method_name': row['method_name'],
        'record_ids': record_ids(row['record_ids']),
        'args': args,
        'kwargs': kwargs,
        'context': '{}',
        'user_id': row['user_id'],
        'company_id': row['company_id'],
        'channel': row['channel'] or defaults.CHANNEL,
        'priority': defaults.PRIORITY if row['priority'] is None else row['priority'],
        # no eta: as soon as possible, in the order the jobs were created
        'eta': row['eta'] or row['date_created'],
        'state': state,
        'retry': row['retry'] or 0,
        'max_retries': max_retries(row['max_retries']),
        'identity_key': row['identity_key'] or None,
        'date_created': row['date_created'],
        'date_started': row['date_started'] if ended else None,
        'date_done': row['date_done'] if state == states.DONE else None,
        'exc_type': exc_type if state == states.FAILED else None,
        'exc_message': exc_message if state == states.FAILED else None,
        'exc_info': row['exc_info'] if state == states.FAILED else None,
        'result': row['result'],
    }


def keep_identity_keys(open_rows: Iterable[Mapping[str, Any]]) -> dict:
    """{OCA uuid: uuid of the job that keeps its identity key} for the open
    jobs that share a key: this addon allows one pending job per key.
    The job that was waiting keeps it over one that was cut off while
    running (as when a job goes back to pending here: superseded), then
    the oldest. Jobs that keep their own key are left out."""
    by_key = {}
    for row in open_rows:
        if row['identity_key']:
            by_key.setdefault(row['identity_key'], []).append(row)
    kept = {}
    for rows in by_key.values():
        rows.sort(key=lambda row: (row['state'] == 'started', row['date_created'] or
                                   datetime.datetime.min, row['id']))
        for row in rows[1:]:
            kept[row['uuid']] = rows[0]['uuid']
    return kept


def superseded(values: dict, by_uuid: str, now: datetime.datetime) -> dict:
    """A converted open job that lost its identity key to job ``by_uuid``
    (keep_identity_keys): cancelled, as this addon ends such a job."""
    return dict(values, state=states.CANCELLED, date_done=now,
                exc_message='superseded by job %s' % by_uuid)


def parse_channels(text: Optional[str]) -> tuple:
    """OCA's ``channels`` option (``root:4,root.sub:2:throttle=1``, or one
    per line) -> ({complete channel name: capacity}, [ignored options]).
    As in OCA, a capacity left out is 1 and ``sub`` means ``root.sub``."""
    capacities, ignored = {}, []
    for item in (text or OCA_DEFAULT_CHANNELS).replace('\n', ',').split(','):
        item = item.strip()
        if not item or item.startswith('#'):
            continue
        name, *rest = [part.strip() for part in item.split(':')]
        if name != 'root' and not name.startswith('root.'):
            name = 'root.' + name
        capacity = rest[0] if rest else '1'
        if not capacity.isdigit():
            raise ValueError('OCA channels option: capacity of %s must be a whole number, '
                             'got %r' % (name, capacity))
        capacities[name] = int(capacity)
        ignored += ['%s:%s' % (name, option) for option in rest[1:] if option]
    return capacities, ignored
