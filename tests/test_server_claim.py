"""Pause and resume, lock keys, nested capacities and rate limits across two
worker processes (an Odoo server and an ``odoo queue-worker``, 4 threads
each) on one database."""
import collections
import json
import threading
import time
import unittest

import pytest

from . import odoo_server
from .common import CommittedDatabase, server_command, server_config, wait_for
from .test_server_engine import end, queue_worker

pytestmark = pytest.mark.server


class Sampler:
    """Samples the running jobs every 5 ms in a thread of its own: rows of
    ``query`` (e.g. counts per channel) while the block runs."""

    def __init__(self, db, query):
        self.db, self.query, self.samples = db, query, []
        self._stop = threading.Event()

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.samples.append(dict(self.db.query(self.query)))
            time.sleep(0.005)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)

    def highest(self, key):
        return max(sample.get(key, 0) for sample in self.samples)


class TestClaimAcrossServers(unittest.TestCase):
    """One database, two worker processes for the whole class; each test
    sets its channels and leaves the queue empty."""

    @classmethod
    def setUpClass(cls):
        cls.db = CommittedDatabase()
        config = server_config('claimfx-two-workers', threads=4)
        cls.worker = queue_worker(config, cls.db.name, log_name='claimfx-queue-worker')
        cls.server = odoo_server.OdooServer(
            cls.db.name, command=server_command(config, cls.db.name), name='claimfx')
        try:
            cls.server.start()
            wait_for(lambda: cls.db.query('SELECT count(*) FROM queue_job_worker '
                                          'WHERE date_stopped IS NULL')[0][0] == 2,
                     120, message='both worker processes registered')
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        end(cls.worker)
        cls.server.stop()
        cls.db.drop()

    def tearDown(self):
        self.db.query("UPDATE queue_job_channel SET paused = false, capacity = 0, rate_limit = 0")

    def channel(self, name, **values):
        with self.db.env() as env:
            Channel = env['queue.job.channel']
            channel = Channel.search([('name', '=', name)]) or Channel.create({'name': name})
            channel.write(values)

    def enqueue_spans(self, count, seconds, channel='root', marker='span', lock_key=None,
                      priority=None):
        """``count`` claimfx_span jobs, in one transaction; ``lock_key`` and
        ``priority``: a value or a function of the job's number."""
        with self.db.env() as env:
            record = env['background.job.test.record'].create({'name': 'claimfx'})
            for n in range(count):
                record.with_delay(
                    channel=channel,
                    lock_key=lock_key(n) if callable(lock_key) else lock_key,
                    priority=priority(n) if callable(priority) else priority,
                ).claimfx_span('%s-%d' % (marker, n), seconds)

    def db_now(self):
        """The database's clock, as date_started is written (seconds)."""
        return float(self.db.query("SELECT extract(epoch FROM now() AT TIME ZONE 'UTC')")[0][0])

    def starts(self, channel):
        """The claims of the channel's jobs: their date_started (seconds), in order."""
        return [float(row[0]) for row in self.db.query(
            "SELECT extract(epoch FROM date_started) FROM queue_job "
            "WHERE channel = %s AND date_started IS NOT NULL ORDER BY date_started", (channel,))]

    def wait_all_done(self, timeout=180):
        wait_for(lambda: not self.db.query(
            "SELECT 1 FROM queue_job WHERE state <> 'done' LIMIT 1"), timeout, interval=0.2,
            message='every job done')

    # ------------------------------------------------------------------ pause
    def test_pause_stops_starts_within_a_second_and_resume_restarts_them_within_a_second(self):
        paused_channel, other_channel = 'root.claimfx_p', 'root.claimfx_q'
        self.channel(paused_channel)
        self.enqueue_spans(300, 0.05, channel=paused_channel, marker='p')
        self.enqueue_spans(300, 0.05, channel=other_channel, marker='q')
        wait_for(lambda: len(self.starts(paused_channel)) >= 20, 60, message='jobs started')
        with self.db.env() as env:
            env['queue.job.channel'].search([('name', '=', paused_channel)]).pause()
        paused_at = self.db_now()
        time.sleep(3)
        resumed_at = self.db_now()  # before the resume commits
        with self.db.env() as env:
            env['queue.job.channel'].search([('name', '=', paused_channel)]).resume()
        wait_for(lambda: any(start > resumed_at for start in self.starts(paused_channel)), 10,
                 message='a job of the resumed channel started')
        self.wait_all_done()
        starts = self.starts(paused_channel)
        late = [start for start in starts if paused_at + 1 < start < resumed_at]
        self.assertEqual(late, [], 'started more than 1 s after the pause')
        first_after = min(start for start in starts if start > resumed_at)
        self.assertLess(first_after - resumed_at, 1)
        others = [start for start in self.starts(other_channel) if paused_at < start < resumed_at]
        self.assertGreater(len(others), 10, 'the other channel kept running')
        self.assertGreater(len([start for start in starts if start < paused_at]), 0)

    # --------------------------------------------------------------- lock_key
    def test_one_job_per_key_in_order_on_two_servers_and_other_keys_not_held_up(self):
        self.enqueue_spans(1, 8, marker='slow', lock_key='claimfx-slow')
        self.enqueue_spans(1, 0, marker='slow-next', lock_key='claimfx-slow')
        wait_for(lambda: self.db.query("SELECT 1 FROM queue_job WHERE lock_key = 'claimfx-slow' "
                                       "AND state = 'started'"), 30, message='slow key started')
        with Sampler(self.db, "SELECT lock_key, count(*) FROM queue_job "
                              "WHERE state = 'started' AND lock_key IS NOT NULL "
                              "GROUP BY lock_key") as sampler:
            self.enqueue_spans(500, 0.01, marker='k', lock_key=lambda n: 'claimfx-%d' % (n % 10),
                               priority=lambda n: (n * 7) % 5)
            self.enqueue_spans(200, 0.01, marker='free')
            wait_for(lambda: not self.db.query(
                "SELECT 1 FROM queue_job WHERE state <> 'done' AND lock_key IS DISTINCT FROM "
                "'claimfx-slow' LIMIT 1"), 120, interval=0.1, message='the other 700 jobs done')
            slow = dict(self.db.query("SELECT state, count(*) FROM queue_job "
                                      "WHERE lock_key = 'claimfx-slow' GROUP BY state"))
            self.wait_all_done()
        self.assertEqual(slow, {'started': 1, 'pending': 1},
                         'the other keys and jobs without key finished while one slow job '
                         'held its key')
        self.assertGreater(len(sampler.samples), 50)
        self.assertEqual(max(max(sample.values(), default=0) for sample in sampler.samples), 1)
        rows = self.db.query("SELECT lock_key, priority, eta, id, date_started, worker_id "
                             "FROM queue_job WHERE lock_key IS NOT NULL")
        by_key = collections.defaultdict(list)
        for key, priority, eta, job_id, started, worker_id in rows:
            by_key[key].append(((priority, eta, job_id), started, worker_id))
        self.assertEqual(len(by_key), 11)
        for key, jobs in by_key.items():
            self.assertEqual([order for order, _, _ in sorted(jobs, key=lambda job: job[1])],
                             sorted(order for order, _, _ in jobs), 'start order of ' + key)
        self.assertEqual(len({row[5] for row in rows}), 2, 'both servers ran jobs')
        spans = collections.defaultdict(list)
        for marker, info in self.db.query(
                "SELECT marker, info FROM background_job_test_log WHERE marker LIKE 'k-%'"):
            span = json.loads(info)
            spans[int(marker[2:]) % 10].append((span['start'], span['end']))
        for key, key_spans in spans.items():
            key_spans.sort()
            for (_, end_first), (start_next, _) in zip(key_spans, key_spans[1:]):
                self.assertLessEqual(end_first, start_next, 'two jobs of key %d overlapped' % key)

    # ----------------------------------------------------- nested capacities
    def test_a_subchannel_counts_against_its_parent_capacity_across_servers(self):
        self.channel('root', capacity=4)
        self.channel('root.claimfx_mail', capacity=2)
        query = ("SELECT CASE WHEN left(channel, 17) = 'root.claimfx_mail' THEN 'mail' "
                 "ELSE 'all' END, count(*) FROM queue_job WHERE state = 'started' GROUP BY 1")
        with Sampler(self.db, query) as sampler:
            self.enqueue_spans(120, 0.03, channel='root.claimfx_mail.bulk', marker='mail')
            self.enqueue_spans(120, 0.03, channel='root.claimfx_other', marker='other')
            self.enqueue_spans(60, 0.03, marker='root')
            self.wait_all_done()
        totals = [sample.get('mail', 0) + sample.get('all', 0) for sample in sampler.samples]
        self.assertGreater(len(sampler.samples), 50)
        self.assertLessEqual(sampler.highest('mail'), 2)
        self.assertLessEqual(max(totals), 4)
        self.assertEqual(sampler.highest('mail'), 2, 'mail should have been full at times')
        self.assertEqual(max(totals), 4, 'root should have been full at times')

    # ------------------------------------------------------------ rate limit
    def test_a_rate_limit_holds_across_servers_over_three_periods(self):
        limit, period = 5, 2
        self.channel('root.claimfx_api', rate_limit=limit, rate_period=period)
        self.enqueue_spans(20, 0, channel='root.claimfx_api.call', marker='api')
        self.wait_all_done(timeout=60)
        starts = self.starts('root.claimfx_api.call')
        self.assertEqual(len(starts), 20)
        for start in starts:
            in_window = [other for other in starts if start <= other < start + period]
            self.assertLessEqual(len(in_window), limit, 'more than %d starts in %d s from %s'
                                 % (limit, period, start))
        span = starts[-1] - starts[0]
        self.assertGreaterEqual(span, 3 * period - 0.1)
        # idle threads wake when the window lets the next job start
        self.assertLess(span, 3 * period + 3)
