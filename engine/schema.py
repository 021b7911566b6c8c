"""DDL the ORM cannot express: the indexes that the claim, the reaper and
identity keys rely on, the delete guards that stand in for foreign keys,
and the table of stop requests. The dependency trigger and its functions
are engine/store/dependencies.py, the periodic jobs' table
engine/store/crons.py.
Run by ``queue.job``'s ``init()`` on install and
upgrade; every statement is idempotent."""

from .store import crons, dependencies

# The triggers that guard users and companies against deletion (see
# STATEMENTS), dropped before they are made again and on uninstall.
DROP_DELETE_GUARDS = (
    "DROP TRIGGER IF EXISTS background_job_restrict_delete ON res_users",
    "DROP TRIGGER IF EXISTS background_job_restrict_delete ON res_company",
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
    # What follows the end of a job that others wait for.
    *dependencies.SCHEMA,
    # Periodic jobs: one per cron and due time.
    *crons.SCHEMA,
)


def install(cr) -> None:
    for statement in STATEMENTS:
        cr.execute(statement)


# What install() created outside queue_job's own table (the addon's
# uninstall hook removes it; the table goes with the model).
UNINSTALL_STATEMENTS = (
    "DROP TABLE IF EXISTS queue_job_stop_request",
    *DROP_DELETE_GUARDS,
    "DROP FUNCTION IF EXISTS background_job_refuse_referenced_delete()",
    *dependencies.UNINSTALL,
    *crons.UNINSTALL,
)


def uninstall(cr) -> None:
    for statement in UNINSTALL_STATEMENTS:
        cr.execute(statement)
