"""Record rules of a job's user, computed for the job's company
(service/company.py)."""
from odoo import api, models, tools

from ..service import company


class IrRule(models.Model):
    _inherit = 'ir.rule'

    @api.model
    def _compute_domain(self, model_name, mode="read"):
        """Odoo caches a domain per (user, model, mode) for the whole
        process, whatever the user's company when it was computed: a job's
        domain must neither reuse nor replace the one the user's requests
        (or a job of the user in another company) use."""
        if company.pinned_company(self.env, self._uid) is None:
            return super()._compute_domain(model_name, mode)
        return self._compute_domain_in_company(self.env.user.company_id.id, model_name, mode)

    @api.model
    @tools.ormcache('self._uid', 'company_id', 'model_name', 'mode')
    def _compute_domain_in_company(self, company_id, model_name, mode):
        compute = super(IrRule, self)._compute_domain
        # the body of Odoo's method, without its per-user cache
        return getattr(compute, '__wrapped__', compute.__func__)(self, model_name, mode)
