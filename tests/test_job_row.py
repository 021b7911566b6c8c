"""The job row is defined once (engine/job_row.py) and every statement
variant differs from its original only in its slot."""
import os
import re

import pytest

from odoo.tests.common import TransactionCase

from odoo.addons.background_job.engine import job_row
from odoo.addons.background_job.engine.store import channels, jobs, runs
from odoo.addons.background_job.service.server import connect

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def production_files():
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders
                         if name not in ('tests', 'shim', 'test-output') and not name.startswith('.')]
        yield from (os.path.join(folder, name) for name in files if name.endswith('.py'))


def test_every_insert_of_a_job_is_built_from_the_row_definition():
    writers = [os.path.relpath(path, ROOT) for path in production_files()
               if re.search(r'INSERT INTO queue_job\s*\(', open(path).read())]
    assert writers == [os.path.join('engine', 'job_row.py')]


def test_the_claim_reads_back_the_fields_of_claimed_job_in_their_order():
    returning = runs.PREPARE_CLAIM.split('RETURNING')[1].strip()
    expected = ', '.join('job.' + name for name in (
        'id', 'uuid', 'model_name', 'method_name', 'record_ids', 'args', 'kwargs', 'context',
        'user_id', 'company_id', 'channel', 'retry', 'max_retries', 'timeout', 'parent_id',
        'date_started', 'lock_key', 'has_dependents'))
    assert returning == expected + ', ' + channels.limited('job.channel')
    assert runs.PREPARE_CLAIM_UNLIMITED.split('RETURNING')[1].strip() == returning


def test_the_unlimited_claim_never_counts_the_running_jobs_of_full_channels():
    assert channels.BLOCKED_CHANNELS in runs.PREPARE_CLAIM
    assert 'count(*)' in runs.PREPARE_CLAIM
    assert channels.BLOCKED_CHANNELS not in runs.PREPARE_CLAIM_UNLIMITED
    assert 'count(*)' not in runs.PREPARE_CLAIM_UNLIMITED
    # otherwise the same statement
    checked = runs.PREPARE_CLAIM.replace('NOT ' + channels.blocked('job.channel'), '<skipped>')
    unlimited = runs.PREPARE_CLAIM_UNLIMITED.replace(
        'NOT EXISTS (SELECT 1 FROM queue_job_channel c WHERE %s)' % channels.SPECIAL, '<skipped>')
    assert checked == unlimited.replace('background_job_claim_unlimited', 'background_job_claim')


def test_the_prepared_enqueue_casts_its_eta_and_is_otherwise_the_plain_one():
    eta = '$%d' % (job_row.ENQUEUE_COLUMNS.index('eta') + 1)
    assert 'COALESCE(%s::timestamp, ' % eta in jobs.PREPARE_ENQUEUE
    assert 'COALESCE(%(eta)s, ' in jobs.ENQUEUE
    assert '::timestamp' not in jobs.ENQUEUE
    assert '%(' not in jobs.PREPARE_ENQUEUE
    plain = re.sub(r'\$(\d+)', lambda match: '%%(%s)s' % job_row.ENQUEUE_COLUMNS[
        int(match.group(1)) - 1], jobs.PREPARE_ENQUEUE.replace(eta + '::timestamp', eta))
    assert plain == 'PREPARE background_job_enqueue AS ' + jobs.ENQUEUE


def test_an_insert_writes_the_defaults_of_the_columns_it_does_not_give():
    statement = job_row.insert_values({'name': "'n'", 'identity_key': "'k'", 'retry': None})
    columns, values = re.match(r'INSERT INTO queue_job \((.*)\)\nVALUES \((.*)\)$',
                               statement, re.S).groups()
    written = dict(zip(columns.split(', '), values.split(',\n       ')))
    assert written == {
        'uuid': job_row.NEW_UUID, 'name': "'n'", 'record_ids': "'[]'", 'args': "'[]'",
        'kwargs': "'{}'", 'context': "'{}'", 'channel': "'root'", 'priority': '10',
        'eta': job_row.NOW_UTC, 'state': "'pending'", 'max_retries': '5',
        'identity_key': "'k'", 'date_created': job_row.NOW_UTC}


def test_a_name_that_is_no_column_is_refused():
    with pytest.raises(ValueError, match='eta_'):
        job_row.insert_select({'eta_': 'now()'})
    with pytest.raises(ValueError, match='limited'):
        job_row.select_list(job_row.ClaimedJob, 'job')


class TestPreparedStatements(TransactionCase):

    def test_the_prepared_statements_take_the_parameter_types_of_their_columns(self):
        connection = connect(self.env.cr.dbname)  # a connection of its own: nothing prepared
        try:
            with connection.cursor() as cr:
                cr.execute(jobs.PREPARE_ENQUEUE)
                runs.prepare_claim(cr)
                cr.execute("SELECT name, parameter_types::text[] FROM pg_prepared_statements")
                types = dict(cr.fetchall())
        finally:
            connection.close()
        enqueue = dict(zip(job_row.ENQUEUE_COLUMNS, types['background_job_enqueue']))
        self.assertEqual(enqueue['eta'], 'timestamp without time zone')
        self.assertEqual(enqueue['priority'], 'integer')
        self.assertEqual(types['background_job_claim'], ['integer'])
        self.assertEqual(types['background_job_claim_unlimited'], ['integer'])
