"""The demo of ``make run`` (demo/background_job_demo.xml): the README's
invoice matching in miniature, so that a newcomer opening the backend sees a
batch run its jobs, then its done method write a summary."""
import time

from odoo import api, fields, models

from ..service.decorator import job


class DemoInvoice(models.Model):
    _name = 'background.job.demo.invoice'
    _description = 'Background jobs demo: invoice to match'

    name = fields.Char(required=True)
    amount = fields.Float()
    paid = fields.Float()
    matched = fields.Boolean(readonly=True)

    @job(channel='root.demo')
    def match(self, tolerance, seconds=0.0):
        """Match demo invoices with their payment."""
        time.sleep(seconds)  # stands for slow work, so that it can be watched
        for invoice in self:
            invoice.matched = abs(invoice.amount - invoice.paid) <= tolerance
        return '%d of %d matched' % (len(self.filtered('matched')), len(self))


class DemoReport(models.Model):
    _name = 'background.job.demo.report'
    _description = 'Background jobs demo: matching report'

    name = fields.Char(required=True)
    summary = fields.Text(readonly=True)

    @api.model
    def start(self, report_id, job_size=5, seconds=5.0, tolerance=0.5):
        """Match every demo invoice in a batch of jobs; ``finish`` writes the
        summary on the report. Returns the batch."""
        invoices = self.env['background.job.demo.invoice'].search([])
        return invoices.match.delay_batch(
            tolerance, seconds=seconds, job_size=job_size, job_res_id=report_id,
            done_method='background.job.demo.report.finish')

    @api.model
    def finish(self, report_id):
        """The batch's done method: runs once, after its last job."""
        batch = self.env['queue.job'].browse(self.env.context['batch_job_id'])
        matched = self.env['background.job.demo.invoice'].search_count([('matched', '=', True)])
        summary = '%d invoices matched by %d jobs (%d done, %d failed).' % (
            matched, batch.batch_total, batch.batch_done, batch.batch_failed)
        self.browse(report_id).summary = summary
        return summary
