"""The job table over real JSON-RPC (/web/dataset/call_kw) against a running
server: nobody creates jobs or changes what they run; delay() from business
code keeps working; users see only their own jobs."""
import unittest

import pytest

from odoo import SUPERUSER_ID

from .common import CommittedDatabase
from .jsonrpc import JsonRpcSession
from .odoo_server import OdooServer

pytestmark = pytest.mark.server

ACCESS_ERROR = 'odoo.exceptions.AccessError'
# Columns that say what a job runs, on what and as whom.
WHAT_RUNS = ('model_name', 'method_name', 'record_ids', 'args', 'kwargs', 'context',
             'user_id', 'company_id', 'uuid')
RETARGETS = (
    {'model_name': 'res.users'},
    {'method_name': 'not_a_job'},
    {'record_ids': '[1]'},
    {'args': '["injected"]'},
    {'kwargs': '{"info": "injected"}'},
    {'context': '{"lang": "fr_FR"}'},
    {'user_id': SUPERUSER_ID},
    {'state': 'pending'},
)


class TestRpcSecurity(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.db = CommittedDatabase()
        try:
            with cls.db.env() as env:
                manager_group = env.ref('background_job.background_job_group_manager')
                user = cls._user(env, 'jq_user', [env.ref('base.group_user').id])
                manager = cls._user(env, 'jq_manager',
                                    [env.ref('base.group_user').id, manager_group.id])
                record = env['background.job.test.record'].create({'name': 'target'})
                cls.record_id = record.id
                cls.user_id, cls.manager_id = user.id, manager.id
                # eta in a day: the server's workers leave them pending
                cls.user_job = record.sudo(user).with_delay(eta=86400).log_run('user-job').id
                cls.user_job_to_cancel = record.sudo(user).with_delay(eta=86400).log_run('x').id
                cls.admin_job = record.with_delay(eta=86400).log_run('admin-job').id
            cls.server = OdooServer(cls.db.name, name='test_security').start()
        except Exception:
            cls.db.drop()
            raise
        cls.sessions = {login: JsonRpcSession(cls.server, login, password) for login, password in
                        (('jq_user', 'jq_user'), ('jq_manager', 'jq_manager'), ('admin', 'admin'))}

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.db.drop()

    @staticmethod
    def _user(env, login, group_ids):
        return env['res.users'].create({'name': login, 'login': login, 'password': login,
                                        'groups_id': [(6, 0, group_ids)]})

    def what_runs(self, job_id):
        return self.db.query('SELECT %s FROM queue_job WHERE id = %%s' % ', '.join(WHAT_RUNS),
                             (job_id,))[0]

    def test_nobody_creates_a_job_over_rpc_not_even_a_manager(self):
        values = {'uuid': 'forged', 'name': 'forged', 'model_name': 'res.users',
                  'method_name': 'unlink', 'record_ids': '[%d]' % SUPERUSER_ID,
                  'user_id': SUPERUSER_ID, 'channel': 'root'}
        for login, session in self.sessions.items():
            error = session.call_kw_error('queue.job', 'create', [values])
            self.assertEqual(error.name, ACCESS_ERROR, (login, error))
            error = session.call_kw_error('queue.job', 'copy', [[self.admin_job]])
            self.assertEqual(error.name, ACCESS_ERROR, (login, error))
        # neither the forged job nor a copy of the admin's job exists
        self.assertEqual(self.db.query(
            "SELECT count(*) FROM queue_job WHERE uuid = 'forged' OR name = 'forged' "
            "OR (args = '[\"admin-job\"]' AND id <> %s)", (self.admin_job,))[0][0], 0)

    def test_nobody_changes_what_a_job_runs_over_rpc_even_with_a_forged_context(self):
        before = {job_id: self.what_runs(job_id) for job_id in (self.user_job, self.admin_job)}
        forged = {'background_job_engine_write': True}
        for login, session in self.sessions.items():
            for change in RETARGETS:
                for job_id in (self.user_job, self.admin_job):
                    for context in ({}, {'context': forged}):
                        error = session.call_kw_error('queue.job', 'write', [[job_id], change],
                                                      context)
                        self.assertEqual(error.name, ACCESS_ERROR, (login, change, error))
        self.assertEqual({job_id: self.what_runs(job_id) for job_id in before}, before)

    def test_a_manager_may_still_reschedule_a_job_a_user_may_not(self):
        manager, user = self.sessions['jq_manager'], self.sessions['jq_user']
        self.assertTrue(manager.call_kw('queue.job', 'write', [[self.admin_job], {'priority': 3}]))
        self.assertEqual(self.db.query('SELECT priority FROM queue_job WHERE id = %s',
                                       (self.admin_job,))[0][0], 3)
        error = user.call_kw_error('queue.job', 'write', [[self.user_job], {'priority': 3}])
        self.assertEqual(error.name, ACCESS_ERROR)

    def test_delay_from_business_code_still_works_over_rpc(self):
        user = self.sessions['jq_user']
        job_id = user.call_kw('background.job.test.record', 'enqueue_log_run',
                              [[self.record_id], 'delayed-over-rpc'])
        row = self.db.query('SELECT model_name, method_name, record_ids, args, user_id '
                            'FROM queue_job WHERE id = %s', (job_id,))
        self.assertEqual(row, [('background.job.test.record', 'log_run',
                                '[%d]' % self.record_id, '["delayed-over-rpc"]', self.user_id)])

    def test_a_user_sees_only_the_jobs_they_enqueued(self):
        user, manager = self.sessions['jq_user'], self.sessions['jq_manager']
        seen = {row['id'] for row in user.call_kw('queue.job', 'search_read', [[]],
                                                   {'fields': ['user_id']})}
        self.assertIn(self.user_job, seen)
        self.assertNotIn(self.admin_job, seen)
        error = user.call_kw_error('queue.job', 'read', [[self.admin_job], ['args']])
        self.assertEqual(error.name, ACCESS_ERROR)
        # their own job opens in the job form (the failure notification links there)
        form = user.call_kw('queue.job', 'load_views', [],
                            {'views': [[False, 'form']], 'options': {}})['fields_views']['form']
        [job] = user.call_kw('queue.job', 'read', [[self.user_job], list(form['fields'])])
        self.assertEqual((job['call_display'], job['state']),
                         ("background.job.test.record(%d).log_run('user-job')" % self.record_id,
                          'pending'))
        seen = {row['id'] for row in manager.call_kw('queue.job', 'search_read', [[]],
                                                      {'fields': ['user_id']})}
        self.assertLessEqual({self.user_job, self.admin_job}, seen)

    def test_a_user_cancels_their_own_pending_job_but_nobody_elses(self):
        user = self.sessions['jq_user']
        error = user.call_kw_error('queue.job', 'cancel', [[self.admin_job]])
        self.assertEqual(error.name, ACCESS_ERROR)
        error = user.call_kw_error('queue.job', 'requeue', [[self.user_job]])
        self.assertEqual(error.name, ACCESS_ERROR)
        user.call_kw('queue.job', 'cancel', [[self.user_job_to_cancel]])
        self.assertEqual(self.db.query('SELECT state FROM queue_job WHERE id = %s',
                                       (self.user_job_to_cancel,))[0][0], 'cancelled')
        self.assertEqual(self.db.query('SELECT state FROM queue_job WHERE id = %s',
                                       (self.admin_job,))[0][0], 'pending')

    def test_portal_users_cannot_start_batches_and_users_get_the_job_methods_channel(self):
        with self.db.env() as env:
            portal_id = self._user(env, 'jq_portal', [env.ref('base.group_portal').id]).id
        portal = JsonRpcSession(self.server, 'jq_portal', 'jq_portal')
        call = ['background.job.test.record', 'narrow_channel', [self.record_id]]
        forged = {'args': ['rpc-batch', 0], 'channel': 'root.forged', 'priority': -5}
        error = portal.call_kw_error('queue.job', 'batch_execute_job', call, forged)
        self.assertEqual(error.name, ACCESS_ERROR)
        self.assertEqual(self.db.query('SELECT count(*) FROM queue_job WHERE user_id = %s',
                                       (portal_id,))[0][0], 0)
        # narrow_channel is @job(channel='root.narrow'), default priority 10
        for login, expected in (('jq_user', ('root.narrow', 10)),
                                ('jq_manager', ('root.forged', -5))):
            batch_id = self.sessions[login].call_kw('queue.job', 'batch_execute_job', call, forged)
            rows = self.db.query('SELECT DISTINCT channel, priority FROM queue_job '
                                 'WHERE id = %s OR parent_id = %s', (batch_id, batch_id))
            self.assertEqual(rows, [expected], login)
