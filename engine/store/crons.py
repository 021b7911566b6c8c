"""Periodic jobs (``ir.cron`` with run_as_queue_job): the table of due
times that gives each one at most one job, and its statements, each next
to the function that runs it."""
from __future__ import annotations

from typing import Optional, Tuple

# One row per cron and due time (the cron's nextcall when it ran) that
# enqueued a job; rows go with their job (the purge). No foreign key to
# ir_cron: its check would take a KEY SHARE lock on the cron's row, which
# Odoo's cron thread holds FOR UPDATE on another connection meanwhile.
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS queue_job_cron_slot (
           cron_id integer NOT NULL,
           due timestamp NOT NULL,
           job_id integer REFERENCES queue_job (id) ON DELETE CASCADE,
           PRIMARY KEY (cron_id, due))""",
    # deleting a job (the purge) finds its slot through this index
    "CREATE INDEX IF NOT EXISTS queue_job_cron_slot_job_idx ON queue_job_cron_slot (job_id)",
)
UNINSTALL = ('DROP TABLE IF EXISTS queue_job_cron_slot',)

# The due time is taken before its job is written. Two servers' cron
# threads that race for it (Odoo's cron lock is taken after the due crons
# were read) meet on the primary key: the second insert waits for the
# first transaction, then inserts nothing (or, if that one rolled back,
# takes the slot); in a REPEATABLE READ transaction (Odoo's) that began
# before the first one committed, it fails with a serialization error
# instead (models/ir_cron.py).
TAKE_SLOT = """
INSERT INTO queue_job_cron_slot (cron_id, due) VALUES (%(cron_id)s, %(due)s)
ON CONFLICT DO NOTHING
"""

SET_SLOT_JOB = """
UPDATE queue_job_cron_slot SET job_id = %(job_id)s WHERE cron_id = %(cron_id)s AND due = %(due)s
"""

# The job of the cron's latest due time before this one, and its state.
PREVIOUS_JOB = """
SELECT job.id, job.state FROM queue_job_cron_slot slot
JOIN queue_job job ON job.id = slot.job_id
WHERE slot.cron_id = %(cron_id)s AND slot.due < %(due)s
ORDER BY slot.due DESC
LIMIT 1
"""


def take_slot(cr, cron_id: int, due: str) -> bool:
    """Take the cron's due time for a job; False if a job has it already."""
    cr.execute(TAKE_SLOT, {'cron_id': cron_id, 'due': due})
    return cr.rowcount == 1


def set_slot_job(cr, cron_id: int, due: str, job_id: int) -> None:
    cr.execute(SET_SLOT_JOB, {'cron_id': cron_id, 'due': due, 'job_id': job_id})


def previous_job(cr, cron_id: int, due: str) -> Optional[Tuple[int, str]]:
    """(id, state) of the job of the cron's due time before ``due``, or None."""
    cr.execute(PREVIOUS_JOB, {'cron_id': cron_id, 'due': due})
    return cr.fetchone()
