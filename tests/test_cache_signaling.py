"""Cache invalidations of jobs reach the other processes (issue 14, item 4):
a job run by `odoo queue-worker` that revokes a group, and the HTTP server's
next request that needed the group."""
import unittest

import pytest

from .common import CommittedDatabase, server_command, server_config, wait_for
from .jsonrpc import JsonRpcSession
from .odoo_server import OdooServer
from .test_server_engine import end, queue_worker

pytestmark = pytest.mark.server

MANAGER_GROUP = 'background_job.background_job_group_manager'


class TestCacheSignaling(unittest.TestCase):

    def setUp(self):
        self.db = CommittedDatabase()
        self.addCleanup(self.db.drop)

    def test_a_group_revoked_by_a_job_is_refused_by_the_http_server_at_once(self):
        with self.db.env() as env:
            env['res.users'].create({
                'name': 'Revoked', 'login': 'revoked', 'password': 'revoked',
                'groups_id': [(6, 0, [env.ref('base.group_user').id, env.ref(MANAGER_GROUP).id])]})
            record_id = env['background.job.test.record'].create({'name': 'revoke'}).id
        http = OdooServer(self.db.name, command=server_command(
            server_config('http-only', threads=0), self.db.name))
        with http:
            session = JsonRpcSession(http, 'revoked', 'revoked')
            # only managers read workers; the server caches that this user may
            session.call_kw('queue.job.worker', 'search_read', [[]], {'fields': ['host']})
            worker = queue_worker(server_config('worker', threads=1), self.db.name)
            self.addCleanup(end, worker)
            with self.db.env() as env:
                job_id = env['background.job.test.record'].browse(record_id).revoke_group.delay(
                    'revoked', MANAGER_GROUP).id
            wait_for(lambda: self.db.query('SELECT state FROM queue_job WHERE id = %s',
                                           (job_id,))[0][0] == 'done', 120, interval=0.2,
                     message='the queue-worker ran the job')
            error = session.call_kw_error('queue.job.worker', 'search_read', [[]],
                                          {'fields': ['host']})
        self.assertEqual(error.name, 'odoo.exceptions.AccessError')
