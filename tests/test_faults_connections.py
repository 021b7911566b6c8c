"""All database connections cut, three times, while a server runs 1,000
effectful jobs (a PostgreSQL failover does this to every session): every
job ends done exactly once, none stays started, and the server logs each
outage once (issue 10, item 6)."""
import re
import time

import pytest

from . import odoo_server
from .common import server_command, server_config, wait_for
from .test_server_engine import ServerCase

pytestmark = pytest.mark.server

JOBS = 1000
CUTS = 3


class TestConnectionsCut(ServerCase):

    def cut_all_connections(self):
        """pg_terminate_backend of every session of the database but ours."""
        return len(self.db.query(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
            'WHERE datname = %s AND pid <> pg_backend_pid()', (self.db.name,)))

    def test_connections_cut_three_times_during_1000_jobs_each_done_exactly_once(self):
        self.enqueue('faults_log_then_sleep', JOBS, 0.05, prefix='faults-cut')
        config = server_config('connections-cut', threads=4)
        command = server_command(config, self.db.name) + ['--max-cron-threads=0']
        cuts = []
        with odoo_server.OdooServer(self.db.name, command=command) as server:
            for n in range(1, CUTS + 1):
                # the control thread's and the 4 job threads' two sessions, back
                wait_for(lambda: self.engine_sessions() >= 9, 120, interval=0.1,
                         message='the workers connected')
                threshold = n * JOBS // (CUTS + 2)
                wait_for(lambda: self.states().get('done', 0) >= threshold, 180,
                         interval=0.05, message='%d jobs done' % threshold)
                cuts.append((time.monotonic(), self.cut_all_connections()))
            wait_for(lambda: self.states() == {'done': JOBS}, 240, interval=0.5,
                     message='all %d jobs done' % JOBS)
            finished = time.monotonic()
            log = server.log_text()
        logged = self.markers_logged('faults-cut')
        self.assertEqual(len(logged), JOBS, 'a job is lost')
        self.assertEqual(set(logged.values()), {1}, 'a job ran twice')
        self.assertTrue(all(count >= 9 for _, count in cuts), cuts)
        # one warning per outage, whichever and however many threads noticed
        lost = re.findall(r' WARNING .*lost its connections to', log)
        back = re.findall(r' INFO .*reconnected to .* after ([\d.]+) s', log)
        self.assertEqual(len(lost), CUTS, lost)
        self.assertEqual(len(back), CUTS, back)
        self.assertNotIn('Traceback', log)
        retried = self.db.query('SELECT count(*), max(retry) FROM queue_job WHERE retry > 0')[0]
        print('\n[faults] connections cut %d times during %d jobs: %d sessions cut each time, '
              '%d jobs interrupted and run again (retry %s at most), reconnected after %s s, '
              'all done %.1f s after the last cut, 0 lost, 0 run twice'
              % (CUTS, JOBS, min(count for _, count in cuts), retried[0], retried[1],
                 '/'.join(back), finished - cuts[-1][0]))
