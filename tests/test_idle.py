"""Idle job threads sleep while the only backlog is in a full channel, and
a freed slot wakes them."""
import time

from .common import running, wait_for
from .test_worker import WorkerCase


class TestIdleThreads(WorkerCase):

    def test_idle_threads_do_not_spin_while_a_full_channel_has_a_backlog(self):
        self.db.query("INSERT INTO queue_job_channel (name, capacity) VALUES ('root.narrow', 1) "
                      "ON CONFLICT (name) DO UPDATE SET capacity = 1")
        with self.db.env() as env:
            record = self.make_record(env)
            ids = [record.narrow_channel.delay('narrow-%d' % n, 1.5).id for n in range(4)]
        with running(self.db.runner(threads=3, poll_interval=2)) as runner:
            wait_for(lambda: self.job(ids[0])['state'] == 'started', 30)
            time.sleep(0.5)
            claims, started = runner.claims, time.monotonic()
            time.sleep(3)
            rate = (runner.claims - claims) / (time.monotonic() - started)
            # the channel's jobs still run one after another, without gaps (in
            # any order: two threads racing for the one slot may swap two jobs)
            wait_for(lambda: all(self.job(job_id)['state'] == 'done' for job_id in ids), 30)
            elapsed = time.monotonic() - started
        # 2 idle threads: a poll every 2 s each, and a wake-up per finished job
        self.assertLess(rate, 6, 'idle threads claimed %.0f times a second' % rate)
        self.assertLess(elapsed, 4 * 1.5 + 2)
        self.assertEqual([self.job(job_id)['state'] for job_id in ids], ['done'] * 4)
        runs = self.db.query("SELECT date_started, date_done FROM queue_job WHERE id = ANY(%s) "
                             "ORDER BY date_started", (ids,))
        for (_, done), (start, _) in zip(runs, runs[1:]):
            self.assertLessEqual(done, start)  # capacity 1: never two at once
