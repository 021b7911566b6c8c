"""DDL the ORM cannot express: the indexes that the claim, the reaper and
identity keys rely on. Run by ``queue.job``'s ``init()`` on install and
upgrade; every statement is idempotent."""

# Every state change rewrites the job's row and adds an entry to EVERY full
# index of the table (state is indexed, so no update is HOT): each full
# index costs every claim and every finish. So the table has few: the
# primary key, the backend's list order, its default filter, users' own
# jobs. Everything else is a partial index that only its rows enter.
STATEMENTS = (
    # worker_id has no foreign key (see ForeignKeyFreeMany2one); databases
    # installed before that still have one.
    "ALTER TABLE queue_job DROP CONSTRAINT IF EXISTS queue_job_worker_id_fkey",
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
)


def install(cr) -> None:
    for statement in STATEMENTS:
        cr.execute(statement)
