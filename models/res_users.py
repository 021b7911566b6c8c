"""The user's company, as a job sees it (service/company.py)."""
from odoo import models

from ..service import company


class ResUsers(models.Model):
    _inherit = 'res.users'

    def _read_from_database(self, field_names, inherited_field_names=[]):
        """Every read of the pinned user's company from the database, in
        any environment of the job, gives the job's company: invalidating
        the cache cannot bring the stored one back mid-job."""
        super()._read_from_database(field_names, inherited_field_names)
        pinned = company.pinned(self.env)
        if not pinned or 'company_id' not in field_names or pinned[0] not in self._ids:
            return
        user, company_id = self.browse(pinned[0]), pinned[1]
        # only a company the user may switch to (as res.users.write checks)
        if company_id != user.company_id.id and company_id in user.sudo().company_ids.ids:
            user._cache.update(user._convert_to_cache({'company_id': company_id},
                                                      validate=False))
