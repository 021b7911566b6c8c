"""The job row, defined once: the columns a job is written with (COLUMNS,
each with what an insert writes when its statement gives nothing) and the
row a claim reads back (ClaimedJob). Every ``INSERT INTO queue_job`` is
built here (insert_values, insert_select), and the claim's RETURNING list
from ClaimedJob's fields (select_list): a column is added in one place.

Datetimes are stored as Odoo stores them: ``timestamp without time zone``
in UTC, hence ``now() AT TIME ZONE 'UTC'`` (NOW_UTC). A job's end
(date_done, done or failed, by a worker, an admin, the reaper or a batch)
is CLOCK_UTC: now() is the time its transaction *began*, and a job's own
transaction begins when the job starts.
"""
from __future__ import annotations

import dataclasses
import datetime
from typing import Iterable, Mapping, Optional

from . import defaults

NOW_UTC = "(now() AT TIME ZONE 'UTC')"
# The time the statement runs (clock_timestamp()), for the moments a job
# starts and ends.
CLOCK_UTC = "(clock_timestamp() AT TIME ZONE 'UTC')"
# A uuid made by PostgreSQL, for rows inserted many per statement; it works
# on every PostgreSQL that Odoo 11 runs on (gen_random_uuid() needs 13).
NEW_UUID = 'md5(random()::text || clock_timestamp()::text)::uuid::text'


@dataclasses.dataclass(frozen=True)
class Column:
    """A column of queue_job that inserts write."""
    name: str
    # SQL an insert writes when its statement gives no expression; None:
    # the column is left out (NULL) unless the statement gives one.
    default: Optional[str] = None


# Every column an insert of the engine (or of the bench) writes, in the
# order of the INSERT lists.
COLUMNS = (
    Column('id'),  # the serial, unless the statement drew the id itself
    Column('uuid', NEW_UUID),
    Column('name'),
    Column('model_name'),
    Column('method_name'),
    Column('record_ids', "'[]'"),
    Column('args', "'[]'"),
    Column('kwargs', "'{}'"),
    Column('context', "'{}'"),
    Column('user_id'),
    Column('company_id'),
    Column('channel', "'%s'" % defaults.CHANNEL),
    Column('priority', str(defaults.PRIORITY)),
    Column('eta', NOW_UTC),
    Column('state', "'pending'"),
    Column('retry', '0'),
    Column('max_retries', str(defaults.MAX_RETRIES)),
    Column('timeout'),  # NULL: not given (the method's, else the server's limit); 0: none
    Column('identity_key'),
    # jobs with the same key run one at a time (engine/store/lock_keys.py)
    Column('lock_key'),
    Column('parent_id'),
    # a batch's own (its children and done job point to it with parent_id)
    Column('is_batch'),
    Column('job_size'),
    Column('done_method'),
    Column('job_res_id'),
    # jobs wait for it: store/dependencies.py follows its end
    Column('has_dependents'),
    Column('date_created', NOW_UTC),
    # an ended job's: the bench fills rows that ran (bench/list_view.py)
    Column('date_started'),
    Column('date_done'),
    Column('exec_time'),
    Column('exc_type'),
    Column('exc_message'),
    Column('exc_info'),  # a failed job's traceback (jobs migrated from OCA)
    Column('result'),
)
_DEFAULTS = {column.name: column.default for column in COLUMNS}

# What delay() gives for a new job, each a parameter of the column's name:
# the keys of service/enqueue.py ``job_values``, in the order of the
# prepared insert's parameters (store/jobs.py PREPARE_ENQUEUE).
ENQUEUE_COLUMNS = ('uuid', 'name', 'model_name', 'method_name', 'record_ids', 'args',
                   'kwargs', 'context', 'user_id', 'company_id', 'channel', 'priority',
                   'eta', 'state', 'max_retries', 'timeout', 'identity_key', 'lock_key',
                   'parent_id')


@dataclasses.dataclass(frozen=True)
class ClaimedJob:
    """A job as the worker needs it to run: the row its claim reads back
    (store/jobs.py builds the RETURNING list from these fields)."""
    id: int
    uuid: str
    model_name: str
    method_name: str
    record_ids: str
    args: str
    kwargs: str
    context: str
    user_id: int
    company_id: Optional[int]
    channel: str
    retry: int
    max_retries: int
    timeout: Optional[int]  # with_delay(timeout=) or @job(timeout=) when enqueued
    parent_id: Optional[int] = None  # the batch the job belongs to
    # the attempt's token (store/runs.py ATTEMPT): set by each claim
    date_started: Optional[datetime.datetime] = None
    lock_key: Optional[str] = None
    has_dependents: Optional[bool] = None  # jobs wait for it (store/dependencies.py)
    # its channel or an ancestor is special (paused, a capacity, a rate
    # limit) when claimed: its claim was checked; not a job column
    limited: bool = False


def parameters(names: Iterable[str]) -> dict:
    """{column: its parameter ``%(column)s``}, for insert_values/insert_select."""
    return {name: '%%(%s)s' % name for name in names}


def _written(values: Mapping[str, Optional[str]]) -> tuple:
    """(column list, expressions) of an insert: each column of COLUMNS with
    its expression in ``values``, else its default; None leaves it out."""
    unknown = set(values) - set(_DEFAULTS)
    if unknown:
        raise ValueError('not columns of queue_job: %s' % ', '.join(sorted(unknown)))
    written = [(name, values.get(name, default)) for name, default in _DEFAULTS.items()]
    written = [(name, expression) for name, expression in written if expression is not None]
    # one expression a line: a line break inside a SQL literal would change it
    return (', '.join(name for name, _ in written),
            ',\n       '.join(expression for _, expression in written))


def insert_values(values: Mapping[str, Optional[str]]) -> str:
    """``INSERT INTO queue_job (...) VALUES (...)`` of one row (see _written)."""
    return 'INSERT INTO queue_job (%s)\nVALUES (%s)' % _written(values)


def insert_select(values: Mapping[str, Optional[str]]) -> str:
    """``INSERT INTO queue_job (...) SELECT ...`` (see _written): the
    statement goes on with its FROM."""
    return 'INSERT INTO queue_job (%s)\nSELECT %s' % _written(values)


def select_list(row_type, table: str, **expressions: str) -> str:
    """The select list that reads ``row_type``'s fields in their order:
    columns of ``table``, or the expressions given for fields that are no
    column of queue_job."""
    names = [field.name for field in dataclasses.fields(row_type)]
    unknown = set(names) - set(_DEFAULTS) - set(expressions)
    if unknown:
        raise ValueError('not columns of queue_job: %s' % ', '.join(sorted(unknown)))
    return ', '.join(expressions.get(name) or '%s.%s' % (table, name) for name in names)
