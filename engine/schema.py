"""DDL the ORM cannot express: the indexes that the claim, the reaper and
identity keys rely on, the delete guards that stand in for foreign keys,
and the table of stop requests, the progress table of running jobs and the
live backend's change markers (the dependency trigger and its functions
are engine/store/dependencies.py, the periodic jobs' table
engine/store/crons.py). Run by ``queue.job``'s ``init()`` on install
and upgrade (the channel table's by ``queue.job.channel``'s); every
statement is idempotent."""
from .store import changes, crons, dependencies, lock_keys
from .store.jobs import CHANNELS_CHANGED, NOTIFY_CHANNEL

# The triggers that guard users and companies against deletion (see
# STATEMENTS), dropped before they are made again and on uninstall.
DROP_DELETE_GUARDS = (
    "DROP TRIGGER IF EXISTS background_job_restrict_delete ON res_users",
    "DROP TRIGGER IF EXISTS background_job_restrict_delete ON res_company",
)

# Running jobs' progress (engine/store/progress.py): a table of its own, not
# columns of queue_job, so that writing it never waits on the job's row
# lock, nor adds a version of the job's row, and it is gone with its job.
PROGRESS_STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS queue_job_progress (
           job_id integer PRIMARY KEY REFERENCES queue_job (id) ON DELETE CASCADE,
           attempt_started timestamp,
           done double precision NOT NULL,
           total double precision,
           message text,
           write_date timestamp NOT NULL)""",
)

# The live backend's change markers (engine/store/changes.py): triggers
# advance a sequence on every change. UPDATE counts per row, so the
# claims of idle workers (statements that change no row) move nothing;
# INSERT and DELETE per statement, so a batch of 10,000 jobs or a purge
# costs one nextval(). An upsert of progress fires the INSERT trigger.
CHANGE_TRIGGERS = (
    ('queue_job', 'INSERT OR DELETE', 'STATEMENT', changes.JOB_CHANGES),
    ('queue_job', 'UPDATE', 'ROW', changes.JOB_CHANGES),
    ('queue_job_progress', 'INSERT', 'STATEMENT', changes.JOB_CHANGES),
    ('queue_job_worker', 'INSERT OR UPDATE OR DELETE', 'STATEMENT', changes.WORKER_CHANGES),
)
DROP_CHANGE_TRIGGERS = tuple(
    "DROP TRIGGER IF EXISTS background_job_change_%s ON %s" % (level.lower(), table)
    for table, _events, level, _sequence in CHANGE_TRIGGERS)
CHANGE_MARKER_STATEMENTS = (
    *("CREATE SEQUENCE IF NOT EXISTS " + name for name in changes.SEQUENCES),
    """CREATE OR REPLACE FUNCTION background_job_count_change() RETURNS trigger
       LANGUAGE plpgsql AS $$
       BEGIN
           PERFORM nextval(TG_ARGV[0]);
           RETURN NULL;
       END $$""",
    *DROP_CHANGE_TRIGGERS,
    *("""CREATE TRIGGER background_job_change_%s AFTER %s ON %s FOR EACH %s
         EXECUTE PROCEDURE background_job_count_change('%s')"""
      % (level.lower(), events, table, level, sequence)
      for table, events, level, sequence in CHANGE_TRIGGERS),
)

# Every state change rewrites the job's row and adds an entry to EVERY full
# index of the table (state is indexed, so no update is HOT): each full
# index costs every claim and every finish. So the table has few: the
# primary key, the backend's list order, its default filter, users' own
# jobs. Everything else is a partial index that only its rows enter.
STATEMENTS = (
    # worker_id, user_id and company_id have no foreign key (see
    # ForeignKeyFreeMany2one); databases installed before that still have them.
    "ALTER TABLE queue_job DROP CONSTRAINT IF EXISTS queue_job_worker_id_fkey",
    "ALTER TABLE queue_job DROP CONSTRAINT IF EXISTS queue_job_user_id_fkey",
    "ALTER TABLE queue_job DROP CONSTRAINT IF EXISTS queue_job_company_id_fkey",
    # ... but a user or company that jobs refer to cannot be deleted, as
    # with the foreign keys' ON DELETE RESTRICT, and with the same error
    # (SQLSTATE 23503), which Odoo explains to the user. The insert side
    # needs no check: delay() writes the caller's own user and company.
    # The function does nothing once queue_job is gone (addon uninstalled).
    """CREATE OR REPLACE FUNCTION background_job_refuse_referenced_delete()
       RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE
           referenced boolean;
       BEGIN
           IF to_regclass('queue_job') IS NOT NULL THEN
               EXECUTE format('SELECT EXISTS (SELECT 1 FROM queue_job WHERE %I = $1)',
                              TG_ARGV[0]) INTO referenced USING OLD.id;
               IF referenced THEN
                   RAISE EXCEPTION 'delete on table "%" violates the reference from "queue_job"',
                       TG_TABLE_NAME
                       USING ERRCODE = 'foreign_key_violation',
                             DETAIL = format('Key (id)=(%s) is still referenced from table "queue_job".', OLD.id);
               END IF;
           END IF;
           RETURN OLD;
       END $$""",
    *DROP_DELETE_GUARDS,
    """CREATE TRIGGER background_job_restrict_delete BEFORE DELETE ON res_users
       FOR EACH ROW EXECUTE PROCEDURE background_job_refuse_referenced_delete('user_id')""",
    """CREATE TRIGGER background_job_restrict_delete BEFORE DELETE ON res_company
       FOR EACH ROW EXECUTE PROCEDURE background_job_refuse_referenced_delete('company_id')""",
    # The claim reads pending jobs in (priority, eta, id) order; a partial
    # index holds only pending rows, so it stays small however many done
    # jobs the table keeps, and the first row is found without sorting.
    """CREATE INDEX IF NOT EXISTS queue_job_claim_idx
       ON queue_job (priority, eta, id) WHERE state = 'pending'""",
    # Capacity counts and the reaper read only running jobs.
    """CREATE INDEX IF NOT EXISTS queue_job_started_idx
       ON queue_job (channel, worker_id) WHERE state = 'started'""",
    # identity_key: a second delay() with the key of a waiting or pending
    # job must find it, even when both callers race: a unique index lets
    # INSERT ... ON CONFLICT DO NOTHING settle the race inside PostgreSQL.
    """CREATE UNIQUE INDEX IF NOT EXISTS queue_job_identity_key_uniq
       ON queue_job (identity_key)
       WHERE identity_key IS NOT NULL AND state IN ('waiting', 'pending')""",
    # lock_key (engine/store/lock_keys.py): at most one started job per key,
    # settled by PostgreSQL even when claims on two servers race; the claim
    # also probes it for a running job of the key. Only started jobs with a
    # key enter it: a job without key costs its predicate only.
    """CREATE UNIQUE INDEX IF NOT EXISTS queue_job_lock_key_started_uniq
       ON queue_job (lock_key) WHERE state = 'started' AND lock_key IS NOT NULL""",
    # ... and the claim's probe for a pending job of the key that comes first.
    """CREATE INDEX IF NOT EXISTS queue_job_lock_key_pending_idx
       ON queue_job (lock_key, priority, eta, id)
       WHERE state = 'pending' AND lock_key IS NOT NULL""",
    lock_keys.KEY_FREE_FUNCTION,
    # The backend's default list: newest first.
    """CREATE INDEX IF NOT EXISTS queue_job_date_created_idx
       ON queue_job (date_created DESC, id DESC)""",
    # The overview's jobs done and failed in the last hour: a range scan of
    # the newest entries. Partial: a row enters it once, when it finishes
    # (done or failed for good), never at its claim or retries.
    """CREATE INDEX IF NOT EXISTS queue_job_date_done_idx
       ON queue_job (date_done) WHERE state IN ('done', 'failed')""",
    # The backend counts jobs by state (the pager of the job list under its
    # default filter, the failed count on the menu) under the multi-company
    # record rule: with company_id in the index these counts are index-only
    # scans that never read the table. It replaces the ORM's index on state
    # (state has index=False), so a state change still updates one index.
    """CREATE INDEX IF NOT EXISTS queue_job_state_company_idx
       ON queue_job (state, company_id)""",
    # The Batches menu.
    """CREATE INDEX IF NOT EXISTS queue_job_batch_idx
       ON queue_job (date_created DESC, id DESC) WHERE is_batch""",
    # Batch progress counts children by state; also finds a batch's jobs.
    """CREATE INDEX IF NOT EXISTS queue_job_parent_state_idx
       ON queue_job (parent_id, state) WHERE parent_id IS NOT NULL""",
    # Stop requests for running jobs (engine/store/stops.py): a table of
    # their own, since the job's row is locked while it runs. No foreign
    # key: queue_job stays truncatable, and stop() takes no lock on the
    # job's row; the purge cron removes requests no attempt took.
    """CREATE TABLE IF NOT EXISTS queue_job_stop_request (
           job_id integer PRIMARY KEY,
           date_started timestamp NOT NULL,
           requested_by text NOT NULL,
           date_requested timestamp NOT NULL)""",
    *PROGRESS_STATEMENTS,
    *CHANGE_MARKER_STATEMENTS,
    # What follows the end of a job that others wait for.
    *dependencies.SCHEMA,
    # Periodic jobs: one per cron and due time.
    *crons.SCHEMA,
)


def install(cr) -> None:
    for statement in STATEMENTS:
        cr.execute(statement)


# queue_job_channel's, run by its model's init().
CHANNEL_STATEMENTS = (
    # The start times of the channel's jobs (and its subchannels') in its
    # rate window, written under the row's lock by the claim's check
    # (store/channels.py CHANNEL_CHECK). No ORM field: nobody else writes it.
    """ALTER TABLE queue_job_channel
       ADD COLUMN IF NOT EXISTS rate_starts timestamp[] NOT NULL DEFAULT '{}'""",
    # Workers learn at once that a channel was paused, resumed or given
    # other limits, however it was changed (backend, RPC, SQL): they check
    # again which claim to use and wake their idle threads. Delivered on
    # commit. The rate windows' own updates (SET rate_starts) do not fire it.
    """CREATE OR REPLACE FUNCTION background_job_channels_changed()
       RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
           PERFORM pg_notify('%s', '%s');
           RETURN NULL;
       END $$""" % (NOTIFY_CHANNEL, CHANNELS_CHANGED),
    "DROP TRIGGER IF EXISTS background_job_channels_changed ON queue_job_channel",
    """CREATE TRIGGER background_job_channels_changed
       AFTER INSERT OR DELETE OR UPDATE OF name, paused, capacity, rate_limit, rate_period
       ON queue_job_channel
       FOR EACH STATEMENT EXECUTE PROCEDURE background_job_channels_changed()""",
)


def install_channels(cr) -> None:
    for statement in CHANNEL_STATEMENTS:
        cr.execute(statement)


# What install() created outside queue_job's own table (the addon's
# uninstall hook removes it; the table goes with the model).
UNINSTALL_STATEMENTS = (
    "DROP TABLE IF EXISTS queue_job_stop_request",
    *DROP_DELETE_GUARDS,
    "DROP FUNCTION IF EXISTS background_job_refuse_referenced_delete()",
    "DROP FUNCTION IF EXISTS background_job_channels_changed() CASCADE",
    "DROP FUNCTION IF EXISTS background_job_lock_key_free(varchar, integer, timestamp, integer)",
    "DROP TABLE IF EXISTS queue_job_progress",
    *DROP_CHANGE_TRIGGERS,
    "DROP FUNCTION IF EXISTS background_job_count_change()",
    *("DROP SEQUENCE IF EXISTS " + name for name in changes.SEQUENCES),
    *dependencies.UNINSTALL,
    *crons.UNINSTALL,
)


def uninstall(cr) -> None:
    for statement in UNINSTALL_STATEMENTS:
        cr.execute(statement)
