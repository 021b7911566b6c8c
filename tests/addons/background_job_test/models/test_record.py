"""Job methods the tests and benchmarks enqueue."""
import json
import time

from odoo import fields, models

from odoo.addons.background_job import FailedJobError, RetryableJobError, job


class TestLog(models.Model):
    """One row per job execution: lets tests count runs exactly."""
    _name = 'background.job.test.log'
    _description = 'Job execution log (tests)'

    marker = fields.Char(index=True)
    info = fields.Text()


class TestRecord(models.Model):
    _name = 'background.job.test.record'
    _description = 'Record that test jobs run on'

    name = fields.Char()
    value = fields.Integer()

    @job
    def noop(self):
        return None

    @job
    def log_run(self, marker, info=None):
        """Log one execution, then return the marker."""
        self.env['background.job.test.log'].create({'marker': marker, 'info': json.dumps(info)})
        return marker

    @job(max_retries=2, retry_pattern={1: 1})
    def log_then_fail(self, marker):
        """Write, then raise: the write must be rolled back."""
        self.env['background.job.test.log'].create({'marker': marker})
        raise ValueError('boom %s' % marker)

    @job(max_retries=3)
    def fail_hard(self, marker):
        raise FailedJobError('give up %s' % marker)

    @job(max_retries=1)
    def ask_retry(self, marker, seconds=1):
        self.env['background.job.test.log'].create({'marker': marker})
        raise RetryableJobError('not yet', seconds=seconds)

    @job
    def describe_env(self, marker):
        """Log who and where the job ran as."""
        info = {'uid': self.env.uid, 'ids': self.ids,
                'company': self.env.context.get('force_company'),
                'lang': self.env.context.get('lang'), 'tz': self.env.context.get('tz'),
                'active_test': self.env.context.get('active_test', True),
                'job_id': self.env.context.get('background_job_id')}
        self.env['background.job.test.log'].create({'marker': marker, 'info': json.dumps(info)})
        return info

    @job(timeout=1)
    def sleep_in_sql(self, seconds):
        self.env.cr.execute('SELECT pg_sleep(%s)', (seconds,))

    @job
    def sleep_and_log(self, marker, seconds):
        time.sleep(seconds)
        self.env['background.job.test.log'].create({'marker': marker})

    @job
    def commit_then_sleep(self, marker, seconds):
        """Commits on its own half-way (as some Odoo code does), then works on."""
        self.env['background.job.test.log'].create({'marker': marker + ' committed'})
        self.env.cr.commit()
        time.sleep(seconds)
        self.env['background.job.test.log'].create({'marker': marker})

    @job(channel='root.narrow')
    def narrow_channel(self, marker, seconds):
        """Sleeps in a channel the tests give a small capacity."""
        time.sleep(seconds)
        self.env['background.job.test.log'].create({'marker': marker})

    def not_a_job(self):
        self.env['background.job.test.log'].create({'marker': 'not_a_job ran'})


class TestRecordProcess(models.Model):
    _inherit = 'background.job.test.record'

    @job
    def log_pid(self, marker):
        """Log the process the job ran in."""
        import os
        self.env['background.job.test.log'].create({'marker': marker, 'info': str(os.getpid())})


class TestRecordBackend(models.Model):
    """Jobs and entry points of the backend tests (security, browser)."""
    _inherit = 'background.job.test.record'

    def enqueue_log_run(self, marker):
        """Business code that delays a job; tests call it over JSON-RPC."""
        return self.log_run.delay(marker).id

    @job(max_retries=0)
    def fail_while_flagged(self, marker):
        """Fails while the record's value is not 0; then logs and succeeds."""
        if self.value:
            raise ValueError('%s is flagged (value %s): clear the flag and requeue'
                             % (self.name, self.value))
        self.env['background.job.test.log'].create({'marker': marker})
        return 'ran after the flag was cleared'


class TestRecordBatch(models.Model):
    """Job and done methods of the batch tests (tests/test_batch*.py)."""
    _inherit = 'background.job.test.record'

    @job
    def batch_chunk(self, marker, seconds=0):
        """One job of a test batch: logs the ids it ran on; fails for good
        when one of its records has a negative value."""
        time.sleep(seconds)
        if any(record.value < 0 for record in self):
            raise FailedJobError('chunk of %s fails on purpose' % marker)
        self.env['background.job.test.log'].create({'marker': marker,
                                                    'info': json.dumps(self.ids)})

    @job
    def start_inner_batch(self, marker, job_size):
        """A batch job that starts a batch of its own (nested batches)."""
        return self.batch_chunk.delay_batch(
            marker, job_size=job_size, done_method='background.job.test.record.batch_done').id

    def batch_done(self, res_id=None):
        """Done method: logs what it saw under the marker batch-done:<batch id>."""
        batch = self.env['queue.job'].browse(self.env.context.get('batch_job_id'))
        self.env.cr.execute("SELECT count(*) FROM queue_job WHERE parent_id = %s "
                            "AND state NOT IN ('done', 'failed', 'cancelled')", (batch.id,))
        unfinished = self.env.cr.fetchone()[0]
        info = {'res_id': res_id, 'uid': self.env.uid,
                'company': self.env.context.get('force_company'),
                'total': batch.batch_total, 'done': batch.batch_done,
                'failed': batch.batch_failed, 'unfinished': unfinished,
                'job_id': self.env.context.get('background_job_id')}
        self.env['background.job.test.log'].create({'marker': 'batch-done:%d' % batch.id,
                                                    'info': json.dumps(info)})
        return info

    def batch_done_flaky(self, res_id=None):
        """Done method that fails its first attempt (rolled back), then logs."""
        done_job = self.env['queue.job'].browse(self.env.context.get('background_job_id'))
        if done_job.retry == 0:
            raise RetryableJobError('done method not ready yet', seconds=1)
        return self.batch_done(res_id)

    def batch_done_strict(self, res_id):
        """Done method that fails for good while its record's value is
        negative; then logs as batch_done."""
        if self.browse(res_id).value < 0:
            raise FailedJobError('done method of record %s fails on purpose' % res_id)
        return self.batch_done(res_id)


class TestRecordWorker(models.Model):
    """Jobs of the worker-loop tests (tests/test_supersede.py)."""
    _inherit = 'background.job.test.record'

    @job(max_retries=3, retry_pattern={1: 1})
    def sleep_then_fail(self, marker, seconds):
        """Runs ``seconds``, then fails (and is retried)."""
        time.sleep(seconds)
        raise ValueError('%s failed after %ss' % (marker, seconds))
