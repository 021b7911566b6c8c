"""Test helpers for addons that delay jobs.

::

    from odoo.addons.background_job.testing import trap_jobs

    with trap_jobs(self.env) as trap:
        partners.send_reminder.delay('hello')
    trap.assert_enqueued(partners, 'send_reminder', 'hello')
    trap.perform()          # run them now, in the test's transaction

Delayed jobs are written as usual, in the test's transaction (so they vanish
with it); the trap remembers which ones the block enqueued.
"""
import contextlib
import json

from .engine import serialization, states
from .service import company
from .service.executor import call_claimed, job_environment, perform_now


class JobTrap:
    """The jobs enqueued inside a ``trap_jobs`` block."""

    def __init__(self, env):
        self.env = env
        env.cr.execute('SELECT coalesce(max(id), 0) FROM queue_job')
        self.first_id = env.cr.fetchone()[0] + 1
        self.last_id = None

    @property
    def jobs(self):
        """queue.job records enqueued in the block, oldest first."""
        domain = [('id', '>=', self.first_id)]
        if self.last_id is not None:
            domain.append(('id', '<=', self.last_id))
        return self.env['queue.job'].sudo().search(domain, order='id')

    def calls(self):
        """[(records, method name, args, kwargs)] of the trapped jobs."""
        browse = lambda model, ids: self.env[model].browse(ids)  # noqa: E731
        found = []
        for job in self.jobs:
            args, kwargs = serialization.loads_arguments(job.args, job.kwargs, browse)
            records = self.env[job.model_name].browse(json.loads(job.record_ids))
            found.append((records, job.method_name, args, kwargs))
        return found

    def assert_enqueued(self, records, method_name, *args, **kwargs):
        """Fail unless a trapped job calls ``records.method_name(*args, **kwargs)``."""
        wanted = (records, method_name, args, kwargs)
        calls = self.calls()
        if wanted not in calls:
            raise AssertionError('no job %s.%s%r %r among the %d trapped: %s' % (
                records, method_name, args, kwargs, len(calls), calls))

    def perform(self):
        """Run the trapped pending jobs now, in this transaction, as their
        users, with a worker's outcomes (executor.perform_now): each ends
        done, or its failure is recorded as a worker records it and its
        exception propagates to the test. The last job of a batch ends it,
        as on a worker: its done method is enqueued (a new job, which a
        trap around ``perform()`` catches)."""
        for job in self.jobs.filtered(lambda job: job.state == states.PENDING):
            perform_now(self.env, job, self._call)

    def _call(self, job):
        env = job_environment(self.env.cr, job)
        try:
            return call_claimed(env, job)
        finally:  # the test's environments outlive the job: unpin its company
            company.pin(env, job.user_id, None)


@contextlib.contextmanager
def trap_jobs(env):
    trap = JobTrap(env)
    yield trap
    env.cr.execute('SELECT coalesce(max(id), 0) FROM queue_job')
    trap.last_id = env.cr.fetchone()[0]
