"""The delay entry point on every model: ``records.with_delay(...).method()``."""
from odoo import models

from ..service import delayable, enqueue


class Base(models.AbstractModel):
    _inherit = 'base'

    def with_delay(self, priority=None, eta=None, channel=None, description=None,
                   identity_key=None, max_retries=None, timeout=None, lock_key=None):
        """Calls on the returned object enqueue jobs instead of running.

        ``eta``: a datetime (UTC) or a number of seconds from now;
        ``identity_key``: a second call with the key of a pending job
        returns that job instead of a new one; a function of the call
        (e.g. ``identity_exact``) computes the key;
        ``lock_key``: jobs with the same key run one at a time, in
        (priority, eta, id) order (default: the ``@job``'s).
        """
        return enqueue.DelayedRecords(self, dict(
            priority=priority, eta=eta, channel=channel, description=description,
            identity_key=identity_key, max_retries=max_retries, timeout=timeout,
            lock_key=lock_key))

    def delayable(self, **options):
        """A call recorded for a graph of jobs (chains, groups, ``on_done``):
        ``records.delayable(priority=5).method(arg)``, then ``.delay()``.
        Options as ``with_delay()``'s; ``job_size``, ``done_method`` and
        ``job_res_id`` make it a batch of these records."""
        return delayable.delayable(self, options)
