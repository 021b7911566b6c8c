"""What an OCA queue_job row becomes (engine/oca_migration.py), without a
database: states, arguments in OCA's JSON, retries, errors, channels,
identity keys that two open jobs share."""
import datetime
import json
import unittest

from odoo.addons.background_job.engine import oca_migration, serialization
from odoo.addons.background_job.engine.identity import JobCall, identity_exact


def oca_row(**values):
    row = dict(id=1, uuid='u-1', name='Job', model_name='res.partner', method_name='run',
               record_ids='[3, 4]', args='[]', kwargs='{}', user_id=2, company_id=1,
               channel='root.sub', priority=3, eta=None, state='pending', retry=0,
               max_retries=5, identity_key=None, date_created='2026-11-30 10:00:00',
               date_started=None, date_done=None, exc_info=None, result=None)
    row.update(values)
    return row


class TestConvertJob(unittest.TestCase):

    def test_open_states_become_pending_and_keep_what_they_had(self):
        for state in ('pending', 'enqueued', 'started'):
            job = oca_migration.convert_job(oca_row(
                state=state, retry=2, eta='2026-12-24 08:00:00', date_started='2026-11-30 10:00:01'))
            self.assertEqual(
                (job['state'], job['uuid'], job['user_id'], job['company_id'], job['channel'],
                 job['priority'], job['retry'], job['eta'], job['record_ids'], job['date_started']),
                ('pending', 'u-1', 2, 1, 'root.sub', 3, 2, '2026-12-24 08:00:00', '[3, 4]', None))

    def test_a_job_without_eta_waits_for_its_creation_time(self):
        self.assertEqual(oca_migration.convert_job(oca_row())['eta'], '2026-11-30 10:00:00')

    def test_failed_and_done_jobs_keep_their_history(self):
        failed = oca_migration.convert_job(oca_row(
            state='failed', exc_info='Traceback (most recent call last):\n  File "x"\n'
                                     'odoo.exceptions.UserError: (\'no\', \'\')\n'))
        self.assertEqual((failed['state'], failed['exc_type'], failed['exc_message']),
                         ('failed', 'odoo.exceptions.UserError', "('no', '')"))
        self.assertIn('Traceback', failed['exc_info'])
        done = oca_migration.convert_job(oca_row(state='done', result='ok', date_started='s',
                                                 date_done='d'))
        self.assertEqual((done['state'], done['result'], done['date_started'], done['date_done']),
                         ('done', 'ok', 's', 'd'))

    def test_an_unknown_state_or_a_missing_call_is_refused(self):
        with self.assertRaisesRegex(ValueError, "OCA job u-1 .* unknown OCA state 'lost'"):
            oca_migration.convert_job(oca_row(state='lost'))
        with self.assertRaisesRegex(ValueError, r"OCA job u-1 \(None.run\): no model_name"):
            oca_migration.convert_job(oca_row(model_name=None))

    def test_max_retries_keeps_the_number_of_runs(self):
        self.assertEqual([oca_migration.max_retries(n) for n in (5, 1, 0, None)],
                         [4, 0, oca_migration.FOREVER_RETRIES, 5])


class TestArguments(unittest.TestCase):

    def browse(self, model, ids):
        return (model, tuple(ids))

    def test_recordsets_dates_and_datetimes_come_back(self):
        args = json.dumps([{'_type': 'odoo_recordset', 'model': 'res.partner', 'ids': [7], 'uid': 2},
                           [1, 'a']])
        kwargs = json.dumps({'when': {'_type': 'date_isoformat', 'value': '2026-11-30'},
                             'at': {'_type': 'datetime_isoformat', 'value': '2026-11-30T12:00:01'},
                             'plain': {'__type__': 'not ours'}})
        args_json, kwargs_json = oca_migration.convert_arguments(args, kwargs)
        self.assertEqual(serialization.loads_arguments(args_json, kwargs_json, self.browse), (
            (('res.partner', (7,)), [1, 'a']),
            {'when': datetime.date(2026, 11, 30), 'at': datetime.datetime(2026, 11, 30, 12, 0, 1),
             'plain': {'__type__': 'not ours'}}))

    def test_arguments_that_cannot_be_converted_name_their_job(self):
        with self.assertRaisesRegex(ValueError, 'not a JSON list and object'):
            oca_migration.convert_arguments('{}', '{}')
        for args in ('[1', '[{"_type": "date_isoformat"}]'):
            with self.assertRaisesRegex(ValueError, r'^OCA job u-1 \(res.partner.run\): '):
                oca_migration.convert_job(oca_row(args=args))


class TestIdentityKeys(unittest.TestCase):

    def test_one_open_job_keeps_a_shared_key_the_waiting_one_first(self):
        rows = [oca_row(id=1, uuid='started', state='started', identity_key='k'),
                oca_row(id=2, uuid='newer', state='pending', identity_key='k',
                        date_created='2026-11-30 11:00:00'),
                oca_row(id=3, uuid='older', state='enqueued', identity_key='k'),
                oca_row(id=4, uuid='alone', state='pending', identity_key='other')]
        self.assertEqual(oca_migration.keep_identity_keys(rows), {'started': 'older', 'newer': 'older'})
        now = datetime.datetime(2026, 12, 1)
        cancelled = oca_migration.superseded(oca_migration.convert_job(rows[0]), 'older', now)
        self.assertEqual((cancelled['state'], cancelled['exc_message'], cancelled['date_done']),
                         ('cancelled', 'superseded by job older', now))

    def test_identity_exact_ignores_the_order_of_records(self):
        class Records:
            def __init__(self, ids):
                self.ids = ids
        key = identity_exact(JobCall('m', 'f', Records([2, 1]), ('a',), {'b': 1}))
        self.assertEqual(key, identity_exact(JobCall('m', 'f', Records([1, 2]), ('a',), {'b': 1})))
        self.assertNotEqual(key, identity_exact(JobCall('m', 'f', Records([1, 2]), ('a',), {'b': 2})))


class TestChannels(unittest.TestCase):

    def test_ocas_channels_option(self):
        self.assertEqual(oca_migration.parse_channels('root:4, root.sub:2:throttle=1,\n other\n'),
                         ({'root': 4, 'root.sub': 2, 'root.other': 1}, ['root.sub:throttle=1']))
        self.assertEqual(oca_migration.parse_channels(None), ({'root': 1}, []))

    def test_a_capacity_that_is_no_number_is_refused(self):
        with self.assertRaisesRegex(ValueError, 'capacity of root.sub must be a whole number'):
            oca_migration.parse_channels('root:4,sub:many')
