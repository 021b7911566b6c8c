"""What the claim statements (engine/store/runs.py, channels.py,
lock_keys.py) let start, on real PostgreSQL: pauses, nested capacities,
rate windows, lock keys, the idle sleep; and the bad inputs refused at
delay() and on channels."""
import select
import threading
import time

import psycopg2
from odoo.exceptions import ValidationError
from odoo.tests.common import TransactionCase

from odoo.addons.background_job.engine import store
from odoo.addons.background_job.engine.store import channels
from odoo.addons.background_job.service.server import connect

from .common import CommittedDatabaseCase


class ClaimCase(CommittedDatabaseCase):
    """Claims on an autocommit connection of a committed clone, jobs and
    channels written by SQL, each test starting from an empty queue."""

    def setUp(self):
        self.db.query('DELETE FROM queue_job')
        self.db.query("DELETE FROM queue_job_channel WHERE name <> 'root'")
        self.db.query("UPDATE queue_job_channel SET paused = false, capacity = 0, rate_limit = 0, "
                      "rate_starts = '{}' WHERE name = 'root'")
        self.connection = connect(self.db.name)
        self.connection.autocommit = True
        self.addCleanup(self.connection.close)
        self.cr = self.connection.cursor()
        store.prepare_claim(self.cr)
        self.worker_id = self.db.query("INSERT INTO queue_job_worker (uuid, host, pid, threads) "
                                       "VALUES (md5(random()::text), 'h', 0, 1) RETURNING id")[0][0]

    def channel(self, name, **limits):
        values = dict(dict(paused=False, capacity=0, rate_limit=0, rate_period=60), **limits)
        self.db.query("INSERT INTO queue_job_channel (name, paused, capacity, rate_limit, "
                      "rate_period) VALUES (%(name)s, %(paused)s, %(capacity)s, %(rate_limit)s, "
                      "%(rate_period)s) ON CONFLICT (name) DO UPDATE SET paused = %(paused)s, "
                      "capacity = %(capacity)s, rate_limit = %(rate_limit)s, "
                      "rate_period = %(rate_period)s", dict(values, name=name))

    def job(self, channel='root', priority=10, lock_key=None, eta_seconds=0):
        return self.db.query(
            "INSERT INTO queue_job (uuid, name, model_name, method_name, record_ids, args, kwargs, "
            "context, user_id, company_id, channel, priority, eta, state, retry, max_retries, "
            "timeout, lock_key, date_created) VALUES (md5(random()::text), 'j', "
            "'background.job.test.record', 'noop', '[]', '[]', '{}', '{}', 1, 1, %s, %s, "
            "(now() AT TIME ZONE 'UTC') + make_interval(secs => %s), 'pending', 0, 5, 0, %s, "
            "now() AT TIME ZONE 'UTC') RETURNING id",
            (channel, priority, eta_seconds, lock_key))[0][0]

    def claim(self):
        """The claim the worker would use now (worker.py DatabaseRunner.claim)."""
        if store.special_channels_exist(self.cr):
            job = store.claim(self.cr, self.worker_id)
        else:
            job = store.claim_unlimited(self.cr, self.worker_id)
        return job and job.id

    def claim_all(self):
        claimed = []
        while True:
            try:
                job_id = self.claim()
            except store.ClaimRefused:
                continue
            if job_id is None:
                return claimed
            claimed.append(job_id)

    def finish(self, job_id):
        self.db.query("UPDATE queue_job SET state = 'done' WHERE id = %s", (job_id,))


class TestPause(ClaimCase):

    def test_a_paused_channel_and_its_subchannels_start_nothing_until_resumed(self):
        paused, sub, other = self.job('root.p'), self.job('root.p.sub'), self.job('root.other')
        self.channel('root.p', paused=True)
        self.assertEqual(self.claim_all(), [other])
        self.channel('root.p', paused=False)
        self.assertEqual(self.claim_all(), [paused, sub])

    def test_the_fast_claim_starts_nothing_once_a_channel_is_paused(self):
        job = self.job('root')
        self.channel('root.p', paused=True)
        self.assertIsNone(store.claim_unlimited(self.cr, self.worker_id))
        self.assertEqual(store.next_eta(self.cr)[1], True, 'the idle worker learns of it')
        self.assertEqual(store.claim(self.cr, self.worker_id).id, job)

    def test_pausing_root_pauses_every_channel(self):
        self.job('root'), self.job('root.a.b')
        self.channel('root', paused=True)
        self.assertEqual(self.claim_all(), [])
        self.assertEqual(store.next_eta(self.cr)[0], None, 'idle threads sleep until woken')

    def test_a_pause_committed_after_the_claim_read_its_snapshot_refuses_it(self):
        self.channel('root.p', capacity=5)
        job = self.job('root.p')
        self.cr.execute('BEGIN')
        self.cr.execute("UPDATE queue_job SET state = 'started' WHERE id = %s", (job,))
        self.db.query("UPDATE queue_job_channel SET paused = true WHERE name = 'root.p'")
        self.assertTrue(channels.refused(self.cr, 'root.p'))
        self.cr.execute('ROLLBACK')

    def test_every_change_of_a_channel_limit_notifies_the_workers_and_rate_records_do_not(self):
        listener = connect(self.db.name)
        listener.autocommit = True
        self.addCleanup(listener.close)
        listener.cursor().execute('LISTEN ' + store.NOTIFY_CHANNEL)

        def payloads():
            select.select([listener], [], [], 1)
            listener.poll()
            found = [notify.payload for notify in listener.notifies]
            del listener.notifies[:]
            return found

        self.channel('root.n')
        self.assertEqual(payloads(), [store.CHANNELS_CHANGED])
        self.db.query("UPDATE queue_job_channel SET paused = true WHERE name = 'root.n'")
        self.assertEqual(payloads(), [store.CHANNELS_CHANGED])
        self.db.query("UPDATE queue_job_channel SET rate_starts = rate_starts || now()::timestamp "
                      "WHERE name = 'root.n'")
        self.assertEqual(payloads(), [])


class TestNestedCapacity(ClaimCase):

    def test_subchannel_jobs_count_against_every_ancestor(self):
        self.channel('root', capacity=3)
        self.channel('root.mail', capacity=2)
        mail = [self.job('root.mail.bulk', priority=1) for _ in range(3)]
        other = [self.job('root.other', priority=5) for _ in range(3)]
        claimed = self.claim_all()
        self.assertEqual(claimed, mail[:2] + other[:1], 'at most 2 mail, 3 in all')
        self.finish(mail[0])
        self.assertEqual(self.claim_all(), [mail[2]])
        self.finish(other[0])
        self.assertEqual(self.claim_all(), [other[1]])

    def test_the_check_counts_the_subchannels_running_jobs_under_the_lock(self):
        self.channel('root.mail', capacity=1)
        first, second = self.job('root.mail.a'), self.job('root.mail.b')
        self.db.query("UPDATE queue_job SET state = 'started' WHERE id = %s", (first,))
        self.cr.execute('BEGIN')
        self.cr.execute("UPDATE queue_job SET state = 'started' WHERE id = %s", (second,))
        self.assertTrue(channels.refused(self.cr, 'root.mail.b'))
        self.cr.execute('ROLLBACK')


class TestRateLimit(ClaimCase):

    def test_at_most_rate_limit_starts_per_period_then_the_idle_worker_wakes_when_it_reopens(self):
        self.channel('root.api', rate_limit=2, rate_period=2)
        jobs = [self.job('root.api.x') for _ in range(3)]
        started = time.monotonic()
        self.assertEqual(self.claim_all(), jobs[:2])
        for job in jobs[:2]:
            self.finish(job)
        self.assertEqual(self.claim_all(), [], 'finished jobs still count in the window')
        wait, _ = store.next_eta(self.cr)
        self.assertLess(abs(float(wait) - (2 - (time.monotonic() - started))), 0.5)
        time.sleep(float(wait) + 0.05)
        self.assertEqual(self.claim_all(), jobs[2:])
        self.db.query("UPDATE queue_job_channel SET rate_starts = ARRAY[(now() AT TIME ZONE "
                      "'UTC') - interval '5 s'] || rate_starts WHERE name = 'root.api'")
        self.db.query("UPDATE queue_job SET state = 'pending' WHERE id = %s", (jobs[2],))
        self.assertEqual(self.claim_all(), jobs[2:])
        window = self.db.query("SELECT cardinality(rate_starts) FROM queue_job_channel "
                               "WHERE name = 'root.api'")[0][0]
        self.assertEqual(window, 4, 'starts older than two periods are dropped')


class TestLockKey(ClaimCase):

    def test_one_job_per_key_in_priority_order_other_keys_and_no_key_go_on(self):
        late, first = self.job(lock_key='k1', priority=5), self.job(lock_key='k1', priority=1)
        other_key, no_key = self.job(lock_key='k2', priority=7), self.job(priority=8)
        self.assertEqual(self.claim_all(), [first, other_key, no_key])
        self.assertEqual(store.next_eta(self.cr)[0], None, 'a held key is no work to wake for')
        self.finish(first)
        self.assertEqual(self.claim_all(), [late])

    def test_a_due_job_of_a_key_waits_for_the_earlier_job_of_the_key(self):
        earlier = self.job(lock_key='k', priority=1)
        later = self.job(lock_key='k', priority=2)
        self.channel('root.p', paused=True)
        self.db.query("UPDATE queue_job SET channel = 'root.p' WHERE id = %s", (earlier,))
        self.assertEqual(self.claim_all(), [])
        self.channel('root.p', paused=False)
        self.assertEqual(self.claim_all(), [earlier])
        self.finish(earlier)
        self.assertEqual(self.claim_all(), [later])

    def test_two_claims_that_both_saw_the_key_free_start_one_job(self):
        # The first job of the key is not due yet, so the second passes the
        # snapshot checks; another transaction starts the first meanwhile.
        first = self.job(lock_key='k', eta_seconds=3600)
        second = self.job(lock_key='k')
        other = connect(self.db.name)
        self.addCleanup(other.close)
        with other.cursor() as other_cr:
            other_cr.execute("UPDATE queue_job SET state = 'started' WHERE id = %s", (first,))
            threading.Timer(0.5, other.commit).start()
            with self.assertRaises(store.KeyHeld):
                store.claim_unlimited(self.cr, self.worker_id)
        self.assertEqual(self.db.query("SELECT state FROM queue_job WHERE id = %s", (second,)),
                         [('pending',)])
        with self.assertRaises(psycopg2.errors.UniqueViolation):
            self.db.query("UPDATE queue_job SET state = 'started' WHERE id = %s", (second,))


class TestBadInputs(TransactionCase):

    def setUp(self):
        super().setUp()
        self.record = self.env['background.job.test.record'].create({'name': 'r'})
        self.Channel = self.env['queue.job.channel']

    def test_creating_a_nested_channel_creates_its_missing_parents(self):
        self.Channel.create({'name': 'root.claimfx_a.b', 'capacity': 2})
        created = self.Channel.search([('name', 'like', 'root.claimfx_a%')])
        self.assertEqual(created.mapped('name'), ['root.claimfx_a', 'root.claimfx_a.b'])
        self.assertEqual(created.mapped('capacity'), [0, 2])

    def test_channel_names_and_limits_are_checked(self):
        for name in ('mail', 'root.', 'root..a', 'root.a b', 'rootx'):
            with self.assertRaises(ValidationError, msg=name), self.cr.savepoint():
                self.Channel.create({'name': name})
        for values in ({'capacity': -1}, {'rate_limit': -1}, {'rate_period': 0}):
            with self.assertRaises(psycopg2.IntegrityError, msg=values), self.cr.savepoint():
                self.Channel.create(dict(values, name='root.claimfx_bad'))

    def test_delay_refuses_a_bad_channel_or_lock_key_with_a_clear_error(self):
        with self.assertRaisesRegex(ValueError, 'not a dotted name under root'):
            self.record.with_delay(channel='mail').noop()
        with self.assertRaisesRegex(ValueError, 'lock_key must be a non-empty string'):
            self.record.with_delay(lock_key=42).noop()
        with self.assertRaisesRegex(ValueError, 'lock_key must be a non-empty string'):
            self.record.with_delay(lock_key='').noop()
        job = self.record.with_delay(lock_key='partner-1').noop()
        self.assertEqual(job.lock_key, 'partner-1')
