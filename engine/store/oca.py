"""Migrating from OCA queue_job: the statements that set OCA's jobs and
channels aside, drop what is left of OCA's tables, and write the jobs as
this addon's rows (cli/migrate_oca.py runs them, in this order, around
the uninstall of OCA's addon and the install of this one).

Both addons name their job table ``queue_job`` and their channel table
``queue_job_channel``; OCA's rows wait in the two backup tables while
neither addon owns those names.
"""
from __future__ import annotations

import itertools
from typing import Iterator

from psycopg2.extras import execute_batch

from .. import job_row
from .channels import set_capacities

JOBS_BACKUP = 'queue_job_oca_backup'
CHANNELS_BACKUP = 'queue_job_channel_oca_backup'

# OCA's columns that the migration reads (engine/oca_migration.convert_job).
OCA_COLUMNS = ('id', 'uuid', 'name', 'model_name', 'method_name', 'record_ids', 'args',
               'kwargs', 'user_id', 'company_id', 'channel', 'priority', 'eta', 'state',
               'retry', 'max_retries', 'identity_key', 'date_created', 'date_started',
               'date_done', 'exc_info', 'result')

# OCA's tables, told from this addon's by a column only OCA's have: the
# drop below must never hit this addon's own tables.
OCA_TABLES = (('queue_job', 'date_enqueued'), ('queue_job_channel', 'complete_name'),
              ('queue_job_function', 'channel_id'))
OCA_TABLE_PRESENT = """
SELECT EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = current_schema()
                 AND table_name = %(table)s AND column_name = %(column)s)
"""

# The jobs aside, as OCA wrote them, in one statement: a copy made again
# from scratch while OCA's table still exists (a run that stopped before
# OCA's uninstall started over).
SET_JOBS_ASIDE = """
DROP TABLE IF EXISTS {backup};
CREATE TABLE {backup} AS SELECT {columns} FROM queue_job
""".format(backup=JOBS_BACKUP, columns=', '.join(OCA_COLUMNS))

# OCA's channels (its records; their capacities come from OCA's config).
SET_CHANNELS_ASIDE = """
DROP TABLE IF EXISTS {backup};
CREATE TABLE {backup} (name varchar PRIMARY KEY, capacity integer NOT NULL);
INSERT INTO {backup} (name, capacity)
SELECT complete_name, 0 FROM queue_job_channel WHERE complete_name IS NOT NULL
""".format(backup=CHANNELS_BACKUP)

# Capacities from OCA's channels option; configured channels without a
# record are channels too.
SET_BACKUP_CAPACITY = """
INSERT INTO {backup} (name, capacity) VALUES (%(name)s, %(capacity)s)
ON CONFLICT (name) DO UPDATE SET capacity = EXCLUDED.capacity
""".format(backup=CHANNELS_BACKUP)

BACKUP_EXISTS = "SELECT to_regclass('{backup}') IS NOT NULL".format(backup=JOBS_BACKUP)
COUNT_BACKUP = "SELECT state, count(*) FROM {backup} GROUP BY state".format(backup=JOBS_BACKUP)

# The jobs of some states, in OCA's order of creation: the open ones all
# at once (keep_identity_keys compares them), the ended ones (maybe
# millions) through a server-side cursor, a page at a time.
READ_JOBS = "SELECT {columns} FROM {backup} WHERE state = ANY(%(states)s) ORDER BY id".format(
    columns=', '.join(OCA_COLUMNS), backup=JOBS_BACKUP)
READ_CHANNELS = "SELECT name, capacity FROM {backup} ORDER BY name".format(
    backup=CHANNELS_BACKUP)

# The columns a migrated job is written with (oca_migration.convert_job's
# keys); the rest take job_row's defaults. uuid is kept: it is how the
# jobs are known outside the database (logs, links, other systems).
MIGRATED_COLUMNS = ('uuid', 'name', 'model_name', 'method_name', 'record_ids', 'args',
                    'kwargs', 'context', 'user_id', 'company_id', 'channel', 'priority',
                    'eta', 'state', 'retry', 'max_retries', 'identity_key', 'date_created',
                    'date_started', 'date_done', 'exc_type', 'exc_message', 'exc_info',
                    'result')
INSERT_MIGRATED = job_row.insert_values(job_row.parameters(MIGRATED_COLUMNS))

# A migrated job whose uuid the table holds already: the check that makes
# a second insert of the same backup fail before it writes anything.
UUIDS_PRESENT = """
SELECT count(*) FROM queue_job WHERE uuid IN (SELECT uuid FROM {backup})
""".format(backup=JOBS_BACKUP)


# Where the command notes how far it got (Settings > Technical > System
# Parameters shows it): 'set aside', then 'done ...' with the counts.
MARK_KEY = 'background_job.oca_migration'
READ_MARK = "SELECT value FROM ir_config_parameter WHERE key = %(key)s"
WRITE_MARK = """
INSERT INTO ir_config_parameter (key, value) VALUES (%(key)s, %(value)s)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
"""

# Other client sessions on the database: a server, OCA's job runner or a
# cron could enqueue or run OCA jobs while they are moved.
OTHER_SESSIONS = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND backend_type = 'client backend'
"""

MODULE_STATE = "SELECT state FROM ir_module_module WHERE name = %(name)s"


def read_mark(cr):
    cr.execute(READ_MARK, {'key': MARK_KEY})
    row = cr.fetchone()
    return row and row[0]


def write_mark(cr, value: str) -> None:
    cr.execute(WRITE_MARK, {'key': MARK_KEY, 'value': value})


def other_sessions(cr) -> int:
    cr.execute(OTHER_SESSIONS)
    return cr.fetchone()[0]


def module_state(cr, name: str):
    """The addon's state in ir_module_module (None: unknown there)."""
    cr.execute(MODULE_STATE, {'name': name})
    row = cr.fetchone()
    return row and row[0]


def oca_tables(cr) -> list:
    """The tables of OCA's addon that exist in the database."""
    found = []
    for table, column in OCA_TABLES:
        cr.execute(OCA_TABLE_PRESENT, {'table': table, 'column': column})
        if cr.fetchone()[0]:
            found.append(table)
    return found


def set_aside(cr, capacities: dict) -> dict:
    """Copy OCA's jobs and channels to the backup tables; {state: count}."""
    cr.execute(SET_JOBS_ASIDE)
    cr.execute(SET_CHANNELS_ASIDE)
    for name, capacity in capacities.items():
        cr.execute(SET_BACKUP_CAPACITY, {'name': name, 'capacity': capacity})
    return backup_counts(cr)


def backup_exists(cr) -> bool:
    cr.execute(BACKUP_EXISTS)
    return cr.fetchone()[0]


def backup_counts(cr) -> dict:
    cr.execute(COUNT_BACKUP)
    return dict(cr.fetchall())


def drop_oca_tables(cr) -> list:
    """Drop what OCA's uninstall left of its tables (all of them when its
    code was no longer in the addons path); the dropped table names."""
    dropped = oca_tables(cr)
    for table in dropped:
        # CASCADE: OCA's own foreign keys between its tables and wizards
        cr.execute('DROP TABLE %s CASCADE' % table)
    return dropped


def jobs(cr, states) -> Iterator[dict]:
    """The backup's jobs in ``states``, as dicts of OCA_COLUMNS; give a
    cursor of its own (a named one for many rows): inserts go to another."""
    cr.execute(READ_JOBS, {'states': list(states)})
    while True:
        rows = cr.fetchmany(2000)
        if not rows:
            return
        for row in rows:
            yield dict(zip(OCA_COLUMNS, row))


def migrated_uuids_present(cr) -> int:
    cr.execute(UUIDS_PRESENT)
    return cr.fetchone()[0]


def insert_jobs(cr, converted) -> int:
    """Write converted jobs (dicts of MIGRATED_COLUMNS), a page of
    statements per round trip; how many."""
    count, remaining = 0, iter(converted)
    while True:
        page = list(itertools.islice(remaining, 1000))
        if not page:
            return count
        execute_batch(cr, INSERT_MIGRATED, page, page_size=len(page))
        count += len(page)


def migrate_channels(cr) -> dict:
    """OCA's channels as this addon's, with their capacities; {name: capacity}."""
    cr.execute(READ_CHANNELS)
    capacities = dict(cr.fetchall())
    set_capacities(cr, capacities)
    return capacities
