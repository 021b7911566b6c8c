"""Dependencies between jobs (chains, groups, on_done): the edges as
fields of ``queue.job`` for the backend, and the admin actions that must
respect them. The graph is written by service/delayable.py; what happens
when a job that others wait for ends is engine/store/dependencies.py (a
trigger, in the ending transaction)."""
from odoo import api, fields, models

from ..engine import store
from ..engine.store import dependencies


class QueueJobDependency(models.Model):
    _inherit = 'queue.job'

    # The ORM makes the edge table (indexed both ways, rows deleted with
    # either job); the engine writes it (store.add_dependencies).
    dependency_ids = fields.Many2many(
        'queue.job', 'queue_job_dependency', 'job_id', 'depends_on_id', 'Waits For',
        readonly=True, help='Jobs that must be done before this one starts.')
    dependent_ids = fields.Many2many(
        'queue.job', 'queue_job_dependency', 'depends_on_id', 'job_id', 'Then Runs',
        readonly=True, help='Jobs that wait for this one.')
    # Set when the edges are written: the trigger follows only these jobs.
    has_dependents = fields.Boolean('Has Dependents', readonly=True)

    def requeue(self):
        """A requeued job whose dependencies are not all done waits for
        them again (its dependents, cancelled with it, wait too)."""
        result = super().requeue()
        dependencies.wait_for_dependencies(self.env.cr, self.ids)
        self.invalidate_cache(ids=self.ids)
        return result

    @api.model
    def _cron_promote_dependents(self):
        """Safety net: start the waiting jobs whose dependencies are all
        done, where the transaction that ended the last one could not see
        the others end (store/dependencies.py)."""
        store.promote_dependents(self.env.cr, None)
