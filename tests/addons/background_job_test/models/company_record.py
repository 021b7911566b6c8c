"""A multi-company model and the jobs of tests/test_company.py."""
import json

from odoo import fields, models

from odoo.addons.background_job import job


class CompanyRecord(models.Model):
    """Has a company default and a company record rule (company_rule.xml),
    as Odoo 11's multi-company models do."""
    _name = 'background.job.test.company.record'
    _description = 'Record of one company (tests)'

    name = fields.Char()
    company_id = fields.Many2one(
        'res.company', required=True,
        default=lambda self: self.env['res.company']._company_default_get(self._name))


class TestRecordCompany(models.Model):
    _inherit = 'background.job.test.record'

    @job(max_retries=0)
    def company_probe(self, marker, read_id=None):
        """Create a company record with its default company, read ``read_id``
        (AccessError when the company rule hides it) and log what was seen."""
        records = self.env['background.job.test.company.record']
        created = records.create({'name': marker})
        info = {'user_company': self.env.user.company_id.id,
                'created_company': created.company_id.id,
                'visible': sorted(records.search([]).mapped('name')),
                'read': records.browse(read_id).name if read_id else None}
        self.env.cache.invalidate()  # the stored company must not come back
        info['after_invalidate'] = self.env['res.users'].sudo().browse(self.env.uid).company_id.id
        self.env['background.job.test.log'].create({'marker': marker, 'info': json.dumps(info)})
        return info

    def batch_done_plain(self, res_id=None):
        """Done method that reads nothing of the batch: logs the company it ran in."""
        self.env['background.job.test.log'].create({
            'marker': 'batch-done-plain:%d' % self.env.context['batch_job_id'],
            'info': json.dumps({'user_company': self.env.user.company_id.id})})
