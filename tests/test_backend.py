"""The backend's model side: admin actions and their state guards, what the
screens show (readable call, failed count on the menu, worker status,
channel load), record rules; then, with real commits, that the backend never
waits on a running job, that a requeue wakes the workers, and that a failed
job notifies who enqueued it."""
import datetime
import json
import select
import time

from lxml import etree

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests.common import TransactionCase

from odoo.addons.background_job.engine import states
from odoo.addons.background_job.engine.store import NOTIFY_CHANNEL
from odoo.addons.background_job.service.server import connect

from .common import CommittedDatabaseCase, running, wait_for

ALL_STATES = [value for value, _label in states.SELECTION]


class BackendCase(TransactionCase):

    def setUp(self):
        super().setUp()
        self.record = self.env['background.job.test.record'].create({'name': 'target'})

    def job_in(self, state, marker='x'):
        job = self.record.log_run.delay(marker)
        self.env.cr.execute('UPDATE queue_job SET state = %s WHERE id = %s', (state, job.id))
        job.invalidate_cache()
        return job

    def jobs_in_every_state(self):
        return {state: self.job_in(state) for state in ALL_STATES}

    def user(self, login, *groups, company=None):
        company = company or self.env.ref('base.main_company')
        return self.env['res.users'].create({
            'name': login, 'login': login, 'company_id': company.id,
            'company_ids': [(6, 0, [company.id])],
            'groups_id': [(6, 0, [self.env.ref(group).id for group in groups])]})


class TestAdminActions(BackendCase):

    def check_action(self, action, expected_from, new_state, jobs=None):
        jobs = jobs or self.jobs_in_every_state()
        getattr(self.env['queue.job'].browse([job.id for job in jobs.values()]), action)()
        for state, job in jobs.items():
            expected = new_state if state in expected_from else state
            self.assertEqual(job.state, expected, '%s of a %s job' % (action, state))
        return jobs

    def test_requeue_runs_failed_cancelled_and_done_jobs_again_with_full_retries(self):
        jobs = self.jobs_in_every_state()
        self.env.cr.execute('UPDATE queue_job SET retry = 3')
        self.env['queue.job'].invalidate_cache()
        self.check_action('requeue', {'failed', 'cancelled', 'done'}, 'pending', jobs)
        self.assertEqual(jobs['failed'].retry, 0)
        self.assertFalse(jobs['done'].date_done)
        self.assertEqual(jobs['started'].retry, 3, 'a running job is never touched')

    def test_cancel_stops_waiting_and_pending_jobs_only(self):
        jobs = self.check_action('cancel', {'waiting', 'pending'}, 'cancelled')
        self.assertTrue(jobs['pending'].date_done)

    def test_set_done_closes_waiting_pending_and_failed_jobs_saying_who_did_it(self):
        jobs = self.check_action('set_done', {'waiting', 'pending', 'failed'}, 'done')
        self.assertIn('by hand by %s' % self.env.user.name, jobs['failed'].result)
        self.assertNotIn('by hand', jobs['done'].result or '')

    def test_run_now_puts_pending_and_failed_jobs_first_in_line(self):
        later = self.record.with_delay(eta=3600, priority=20).log_run('later')
        failed = self.job_in('failed')
        (later | failed).run_now()
        now = fields.Datetime.now()
        for job in (later, failed):
            self.assertEqual(job.state, 'pending')
            self.assertLessEqual(job.priority, 0)
            self.assertLessEqual(job.eta, now)

    def test_an_action_that_applies_to_no_selected_job_says_so(self):
        pending = self.job_in('pending')
        with self.assertRaises(UserError) as caught:
            pending.requeue()
        self.assertIn('(Done, Failed, Cancelled)', str(caught.exception))
        self.assertEqual(pending.state, 'pending')

    def test_form_buttons_show_exactly_in_the_states_their_action_accepts(self):
        arch = etree.fromstring(self.env['queue.job'].fields_view_get(
            self.env.ref('background_job.queue_job_view_form').id, 'form')['arch'])
        buttons = {button.get('name'): json.loads(button.get('modifiers'))['invisible']
                   for button in arch.iter('button') if button.getparent().tag == 'header'}

        def shown(name, state, is_batch=False):
            return not _matches(buttons[name], {'state': state, 'is_batch': is_batch,
                                                'batch_failed': 0})
        expected = {'requeue': states.REQUEUE_FROM, 'run_now': states.RUN_NOW_FROM,
                    'set_done': states.SET_DONE_FROM, 'cancel': states.CANCEL_FROM,
                    'stop': states.STOP_FROM}
        for name, allowed in expected.items():
            self.assertEqual({state for state in ALL_STATES if shown(name, state)}, set(allowed),
                             name)
            self.assertFalse(any(shown(name, state, is_batch=True) for state in ALL_STATES),
                             '%s on a batch' % name)
        self.assertEqual({state for state in ALL_STATES if shown('cancel_batch', state, True)},
                         {'waiting'})

    def test_a_batch_is_cancelled_with_its_jobs_and_never_set_done_by_hand(self):
        records = self.record | self.record.copy() | self.record.copy()
        batch = records.log_run.delay_batch('batched', job_size=1)
        self.assertEqual((batch.state, len(batch.child_ids)), ('waiting', 3))
        with self.assertRaises(UserError):
            batch.set_done()
        self.env.ref('background_job.queue_job_action_cancel').with_context(
            active_model='queue.job', active_ids=batch.ids).run()
        batch.invalidate_cache()
        self.assertEqual(batch.state, 'cancelled')
        self.assertEqual(set(batch.child_ids.mapped('state')), {'cancelled'})

    def test_a_batch_whose_last_jobs_are_finished_by_hand_ends_at_once(self):
        records = self.record | self.record.copy()
        batch = records.log_run.delay_batch('by hand', job_size=1)
        first, second = batch.child_ids
        first.set_done()
        batch.invalidate_cache()
        self.assertEqual(batch.state, 'waiting')
        second.cancel()
        batch.invalidate_cache()
        self.assertEqual((batch.state, batch.batch_done, batch.batch_state),
                         ('done', 1, 'done'))

    def test_list_actions_requeue_and_cancel_a_selection(self):
        failed, pending = self.job_in('failed'), self.job_in('pending')
        for xmlid, expected in (('queue_job_action_requeue', {failed: 'pending', pending: 'pending'}),
                                ('queue_job_action_cancel', {failed: 'cancelled', pending: 'cancelled'})):
            action = self.env.ref('background_job.' + xmlid)
            self.assertEqual(action.binding_model_id.model, 'queue.job')
            action.with_context(active_model='queue.job', active_ids=(failed | pending).ids).run()
            self.assertEqual({job: job.state for job in (failed, pending)}, expected, xmlid)


class TestScreens(BackendCase):

    def test_call_shows_the_arguments_as_python_values(self):
        job = self.record.log_run.delay('hello', info={'when': datetime.date(2026, 11, 22),
                                                       'pair': (1, 2), 'who': self.record})
        self.assertEqual(
            job.call_display,
            "background.job.test.record(%d).log_run('hello', info={'pair': (1, 2), "
            "'when': datetime.date(2026, 11, 22), 'who': background.job.test.record(%d,)})"
            % (self.record.id, self.record.id))
        self.assertEqual(job.record_count, 1)

    def test_open_records_shows_the_one_record_or_the_list(self):
        one = self.record.log_run.delay('one').open_related_action()
        self.assertEqual((one['res_model'], one['res_id'], one['view_mode']),
                         ('background.job.test.record', self.record.id, 'form'))
        two = self.record | self.record.copy()
        many = two.log_run.delay('two').open_related_action()
        self.assertEqual((many['domain'], many['view_mode']), ([('id', 'in', two.ids)], 'tree,form'))

    def test_the_jobs_menu_counts_failed_jobs_and_follows_new_failures(self):
        def badge():
            menus = self.env['ir.ui.menu'].load_menus(False)
            jobs_menu = self.env.ref('background_job.queue_job_menu').id
            found = [item for item in _walk(menus) if item.get('id') == jobs_menu]
            self.assertEqual(len(found), 1)
            return found[0].get('background_job_failed')
        self.env.cr.execute("UPDATE queue_job SET state = 'done' WHERE state = 'failed'")
        self.assertIsNone(badge())
        self.job_in('failed')
        self.job_in('failed')
        self.assertEqual(badge(), 2)
        self.job_in('failed')
        self.assertEqual(badge(), 3)

    def test_workers_without_a_recent_heartbeat_show_as_dead(self):
        self.env.cr.execute("""
            INSERT INTO queue_job_worker (uuid, host, pid, threads, last_beat, date_stopped)
            VALUES ('live', 'h', 1, 4, now() AT TIME ZONE 'UTC', NULL),
                   ('dead', 'h', 2, 4, now() AT TIME ZONE 'UTC' - interval '1 hour', NULL),
                   ('stopped', 'h', 3, 4, now() AT TIME ZONE 'UTC' - interval '1 hour',
                    now() AT TIME ZONE 'UTC')""")
        Worker = self.env['queue.job.worker']
        workers = Worker.search([('uuid', 'in', ['live', 'dead', 'stopped'])])
        self.assertEqual({worker.uuid: worker.status for worker in workers},
                         {'live': 'live', 'dead': 'dead', 'stopped': 'stopped'})
        for status in ('live', 'dead', 'stopped'):
            found = Worker.search([('status', '=', status), ('uuid', 'in', workers.mapped('uuid'))])
            self.assertEqual(found.mapped('uuid'), [status])

    def test_channels_count_their_running_and_pending_jobs(self):
        Channel = self.env['queue.job.channel']
        channel = Channel.create({'name': 'root.backend_test', 'capacity': 2})
        for state in ('pending', 'pending', 'started', 'done'):
            job = self.job_in(state)
            self.env.cr.execute("UPDATE queue_job SET channel = 'root.backend_test' WHERE id = %s",
                                (job.id,))
        self.assertEqual((channel.running_count, channel.pending_count), (1, 2))


class TestAccess(BackendCase):

    def test_users_see_only_their_jobs_and_managers_every_job(self):
        user = self.user('jq_reader', 'base.group_user')
        manager = self.user('jq_boss', 'base.group_user',
                            'background_job.background_job_group_manager')
        own = self.record.sudo(user).log_run.delay('mine')
        other = self.record.log_run.delay('not mine')
        self.assertEqual(self.env['queue.job'].sudo(user).search([('id', 'in', (own | other).ids)]),
                         own)
        self.assertEqual(self.env['queue.job'].sudo(manager).search([('id', 'in', (own | other).ids)]),
                         own | other)

    def test_jobs_of_another_company_are_hidden_even_from_managers(self):
        other_company = self.env['res.company'].create({'name': 'Other Co'})
        manager = self.user('jq_other_boss', 'base.group_user',
                            'background_job.background_job_group_manager', company=other_company)
        here = self.record.log_run.delay('main company')
        there = self.record.sudo(manager).log_run.delay('other company')
        self.assertEqual(there.company_id, other_company)
        self.assertEqual(self.env['queue.job'].sudo(manager).search([('id', 'in', (here | there).ids)]),
                         there)

    def test_users_cancel_their_own_pending_jobs_and_nothing_else(self):
        user = self.user('jq_canceller', 'base.group_user')
        own = self.record.sudo(user).log_run.delay('mine')
        own_failed = self.job_in('failed').sudo(user)
        self.env.cr.execute('UPDATE queue_job SET user_id = %s WHERE id = %s', (user.id, own_failed.id))
        other = self.record.log_run.delay('not mine')
        with self.assertRaises(AccessError):
            other.sudo(user).cancel()
        for action in ('requeue', 'run_now', 'set_done'):
            with self.assertRaises(AccessError):
                getattr(own_failed.sudo(user), action)()
        own.sudo(user).cancel()
        self.assertEqual((own.state, other.state), ('cancelled', 'pending'))


class TestWithCommits(CommittedDatabaseCase):
    """Jobs committed, a second connection in the role of a worker."""

    def enqueue(self, method, *args, **options):
        with self.db.env() as env:
            record = env['background.job.test.record'].create({'name': 'r', 'value': 1})
            return getattr(record.with_delay(**options), method)(*args).id

    def test_the_backend_never_waits_on_a_running_job(self):
        job_id = self.enqueue('log_run', 'locked', eta=3600)
        worker = connect(self.db.name)  # holds the row lock, as a running job does
        try:
            worker.cursor().execute('SELECT id FROM queue_job WHERE id = %s FOR NO KEY UPDATE',
                                    (job_id,))
            for call in (lambda job: job.cancel(), lambda job: job.set_done(),
                         lambda job: job.run_now(), lambda job: job.write({'priority': 1}),
                         lambda job: job.unlink()):
                with self.db.env() as env:
                    env.cr.execute("SET LOCAL lock_timeout = '30s'")  # a regression fails, not hangs
                    started = time.monotonic()
                    with self.assertRaises(UserError):
                        call(env['queue.job'].browse(job_id))
                    self.assertLess(time.monotonic() - started, 10)
        finally:
            worker.rollback()
            worker.close()
        self.assertEqual(self.db.query('SELECT state, priority FROM queue_job WHERE id = %s',
                                       (job_id,)), [('pending', 10)])

    def test_a_requeue_wakes_the_workers_when_it_commits(self):
        job_id = self.enqueue('log_run', 'wake')
        self.db.query("UPDATE queue_job SET state = 'failed' WHERE id = %s", (job_id,))
        listener = connect(self.db.name)
        listener.autocommit = True
        with listener.cursor() as cr:
            cr.execute('LISTEN %s' % NOTIFY_CHANNEL)
        try:
            with self.db.env() as env:
                env['queue.job'].browse(job_id).requeue()
                self.assertFalse(select.select([listener], [], [], 0.5)[0], 'notified before commit')
            self.assertTrue(select.select([listener], [], [], 30)[0], 'no NOTIFY after commit')
            listener.poll()
            self.assertTrue(any(n.channel == NOTIFY_CHANNEL for n in listener.notifies))
        finally:
            listener.close()

    def test_a_job_that_failed_for_good_notifies_who_enqueued_it(self):
        with self.db.env() as env:
            user = env['res.users'].create({'name': 'Notified', 'login': 'jq_notified',
                                            'groups_id': [(6, 0, [env.ref('base.group_user').id])]})
            user_id = user.id
            record = env['background.job.test.record'].create({'name': 'flag', 'value': 1})
            job_id = record.sudo(user).fail_while_flagged.delay('notify').id
        with running(self.db.runner(threads=1)):
            message = wait_for(lambda: self.db.query(
                'SELECT message FROM bus_bus WHERE channel = %s',
                (json.dumps([self.db.name, 'background_job.failed', user_id],
                            separators=(',', ':')),)), timeout=60, message='a bus message')
        job = json.loads(message[0][0])
        self.assertEqual(job['id'], job_id)
        self.assertIn('flag is flagged', job['exc_message'])


def _matches(domain, values):
    """Whether ``values`` satisfy a modifiers domain (what the web client
    evaluates to hide a button)."""
    def term(leaf):
        field, operator, value = leaf
        return {'=': lambda: values[field] == value, '!=': lambda: values[field] != value,
                'in': lambda: values[field] in value,
                'not in': lambda: values[field] not in value}[operator]()

    def parse(position):
        token = domain[position]
        if token in ('|', '&'):
            left, position = parse(position + 1)
            right, position = parse(position)
            return (left or right) if token == '|' else (left and right), position
        return term(token), position + 1
    position, stack = 0, []
    while position < len(domain):  # implicit AND between top-level terms
        value, position = parse(position)
        stack.append(value)
    return all(stack) if stack else False


def _walk(item):
    yield item
    for child in item.get('children') or ():
        yield from _walk(child)
