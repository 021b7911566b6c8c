"""The worker loop: threads that claim jobs of one database and hand them
to the attempt (engine/attempt.py).

A :class:`DatabaseRunner` owns, for one database:

- N job threads: each loops claim -> ``attempt.perform`` (lock, run, done
  or failure, report, batch endings), with its own autocommit connection
  for claims, failure records and batch endings, plus the executor's cursor
  its jobs run in; both are closed after ``idle_close`` seconds without work;
- one control thread: LISTEN for new jobs (wakes the job threads) and for
  stop requests, heartbeat, the reaper (requeue or fail the jobs of dead
  workers, then report and end batches as an attempt does), a poll for work
  while job threads are disconnected, and the watchdog's rounds
  (engine/watchdog.py: attempts past their time limit or stopped are ended,
  a job thread stuck in an ended attempt is replaced).

``stop()`` (SIGTERM, SIGINT) stops the claims at once, lets running jobs
finish for ``shutdown_timeout`` seconds, then ends the others and requeues
them without counting a retry.

Running a job in Odoo is the executor's business (service/executor.py);
this module knows PostgreSQL and threads, not the ORM. Lost connections
are logged once per outage (engine/outage.py).
"""
from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import time
import uuid as uuidlib
from typing import Callable, Optional, Protocol

import psycopg2
import psycopg2.extensions

from . import attempt, defaults, store, watchdog
from .transaction import transaction
from .outage import Outages, connection_lost
from .settings import Settings
from .wakeup import Wakeup
from .watchdog import Watchdog

_logger = logging.getLogger(__name__)


class Executor(attempt.WorkerApplication, Protocol):
    """Runs claimed jobs in the application (Odoo): what an attempt needs
    (engine/attempt.py), and what the loop needs around it."""

    def prepare(self) -> None:
        """Called before each claim: load what running a job needs, so that
        nothing between the claim and the job's row lock can wait."""


class DatabaseRunner:
    """Serves one database: registers a worker row, runs the threads."""

    def __init__(self, dbname: str, connect: Callable[[], 'psycopg2.extensions.connection'],
                 executor: Executor, settings: Settings,
                 too_many_abandoned: Optional[Callable[['DatabaseRunner'], None]] = None):
        self.dbname = dbname
        self.connect = connect
        self.executor = executor
        self.settings = settings
        self.uuid = str(uuidlib.uuid4())
        self.host = socket.gethostname()
        self.worker_id: Optional[int] = None
        self.stopping = threading.Event()
        self.wakeup = Wakeup()
        # until the control thread has looked: assume some channel is
        # special (paused, a capacity, a rate limit), so claims are checked
        self.special_channels = True
        self.threads: list = []
        self.claims = 0  # claims tried, all threads (tests and monitoring read it)
        # job threads connected; for the others the control thread polls
        self._connected = 0
        self._connected_lock = threading.Lock()
        self.watchdog = Watchdog()
        # called once as many job threads as ``threads`` are abandoned
        # (stuck in ended attempts): a job process restarts itself
        self.too_many_abandoned = too_many_abandoned or (
            lambda runner: watchdog.log_too_many_abandoned(runner.dbname, runner.watchdog))
        self._stop_deadline: Optional[float] = None
        self._next_stop_poll = 0.0
        # lost connections, logged once per outage; attempts they interrupted
        # before their outcome was recorded (recorded once reconnected)
        self.outages = Outages(dbname)
        self.interrupted: list = []
        self._local = threading.local()

    # -- life cycle ---------------------------------------------------------
    def start(self) -> None:
        with self._connection() as connection, transaction(connection) as cr:
            self.worker_id = store.register_worker(
                cr, self.uuid, self.host, os.getpid(), self.settings.threads)
            store.ensure_channels(cr, self.settings.channels)
        _logger.info('job worker %s serving %s with %d threads',
                     self.worker_id, self.dbname, self.settings.threads)
        self.threads = [self._thread(self._control_loop, 'control')]
        self.threads += [self._thread(self._job_loop, 'job-%d' % n)
                         for n in range(self.settings.threads)]

    def stop(self, timeout: Optional[float] = None) -> None:
        """Stop claiming at once; running jobs get ``timeout`` seconds
        (default: shutdown_timeout) to finish, then they are ended and
        requeued without counting a retry; then unregister."""
        self.begin_stop(timeout)
        self.finish_stop()

    def begin_stop(self, timeout: Optional[float] = None) -> None:
        """Stop claiming now (several runners stop together: Manager.stop)."""
        timeout = self.settings.shutdown_timeout if timeout is None else timeout
        self._stop_deadline = time.monotonic() + timeout
        self.stopping.set()
        self.wakeup.notify()

    def finish_stop(self) -> None:
        """After begin_stop: wait for running jobs until its deadline, end
        and requeue those still running, unregister."""
        self._join_threads(self._stop_deadline)
        if self.watchdog.running():
            try:
                with self._connection() as connection, connection.cursor() as cr:
                    for running in self.watchdog.running().values():
                        self._end_attempt(connection, cr, running, watchdog.SHUTDOWN)
            except psycopg2.Error:
                _logger.warning('could not requeue the jobs still running on job worker %s',
                                self.worker_id, exc_info=True)
            self._join_threads(time.monotonic() + watchdog.SHUTDOWN_COME_BACK)
        if not self.watchdog.running():
            try:
                with self._connection() as connection, transaction(connection) as cr:
                    store.unregister_worker(cr, self.worker_id)
            except psycopg2.Error:
                _logger.warning('could not unregister job worker %s', self.worker_id)

    def _join_threads(self, deadline: float) -> None:
        for thread in list(self.threads):
            if not self.watchdog.is_abandoned(thread):
                thread.join(max(0, deadline - time.monotonic()))

    def _thread(self, target, name) -> threading.Thread:
        thread = threading.Thread(target=self._guarded, args=(target,),
                                  name='background_job %s %s' % (self.dbname, name),
                                  daemon=True)
        thread.dbname = self.dbname  # Odoo's log records show it
        thread.start()
        return thread

    def _guarded(self, loop) -> None:
        """Run a loop forever; a lost connection is retried with backoff,
        which starts again from 1 s once a loop ran fine for a while."""
        backoff = 1
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                loop()
                return
            except attempt.Interrupted as interrupted:
                self.interrupted.append(interrupted)  # see _open
                self.outages.lost(getattr(self._local, 'outage', None),
                                  interrupted.__cause__ or interrupted.error, backoff)
            except Exception as error:
                if connection_lost(error):
                    self.outages.lost(getattr(self._local, 'outage', None), error, backoff)
                else:
                    _logger.exception('job worker loop of %s crashed; restarting it', self.dbname)
            if time.monotonic() - started >= self.settings.backoff_reset:
                backoff = 1
            self.stopping.wait(backoff)
            backoff = min(backoff * 2, 30)

    def _open(self):
        """The connection of the calling thread's loop (job or control
        thread). Once it works, the attempts that an outage interrupted are
        recorded on it (failed, retried soon), whichever thread ran them."""
        connection = self.connect()
        connection.autocommit = True
        self._local.outage = self.outages.opened()
        try:
            while self.interrupted:  # lost again: Interrupted, back in the list (_guarded)
                attempt.record_interrupted(self.executor, connection, self.interrupted.pop(),
                                           self.worker_id)
        except BaseException:
            connection.close()
            raise
        return connection

    @contextlib.contextmanager
    def _connection(self):
        """A short-lived autocommit connection to the runner's database."""
        connection = self.connect()
        connection.autocommit = True
        try:
            yield connection
        finally:
            connection.close()

    # -- job threads ----------------------------------------------------------
    def _job_loop(self) -> None:
        # A thread holds its connections (this one for claims, the executor's
        # for jobs) while it has work, and closes them after idle_close
        # seconds without: an idle database costs only the control thread's
        # connection, a busy one never connects per job.
        connection = None
        idle_since = time.monotonic()
        try:
            while not self.stopping.is_set():
                seen = self.wakeup.generation
                if connection is None:
                    connection = self._job_connection()
                    idle_since = time.monotonic()
                self.executor.prepare()  # may wait: no job claimed yet
                try:
                    job = self.claim(connection)
                except store.ClaimRefused:
                    continue  # rolled back; the next claim skips that channel or key
                if job is None:
                    wait = self._idle_wait(connection)
                    if time.monotonic() - idle_since >= self.settings.idle_close:
                        self._disconnect(connection)
                        connection = None
                        wait = None  # until woken: the control thread polls meanwhile
                    self.wakeup.wait(seen, wait)
                    continue
                if self.stopping.is_set():
                    with transaction(connection) as cr:
                        store.release(cr, job.id, self.worker_id)
                else:
                    if attempt.perform(self.executor, connection, job, self.worker_id,
                                       self.settings.timeout, self.watchdog):
                        return  # abandoned: another thread took this one's place
                    if job.limited or job.lock_key:
                        self.wakeup.notify()  # a channel's slot or a key is free again
                idle_since = time.monotonic()
        finally:
            if connection is not None:
                self._disconnect(connection)

    def _job_connection(self):
        # autocommit, so that a claim costs two round trips (store.claim);
        # everything else on it runs in explicit transactions (transaction())
        connection = self._open()
        with connection.cursor() as cr:
            store.prepare_claim(cr)
        with self._connected_lock:
            self._connected += 1
        return connection

    def _disconnect(self, connection) -> None:
        """Close the thread's connections (claims, and the executor's)."""
        with self._connected_lock:
            self._connected -= 1
        try:
            connection.close()
        finally:
            self.executor.close_thread()

    def claim(self, connection) -> Optional[store.ClaimedJob]:
        self.claims += 1
        with connection.cursor() as cr:
            if self.special_channels:
                return store.claim(cr, self.worker_id)
            return store.claim_unlimited(cr, self.worker_id)

    def _idle_wait(self, connection) -> float:
        with connection.cursor() as cr:  # one statement: autocommitted
            next_eta, special_channels = store.next_eta(cr)
        # the unlimited claim claims nothing once a channel is special
        self.special_channels = self.special_channels or special_channels
        poll = self.settings.poll_interval
        return poll if next_eta is None else max(0.01, min(poll, float(next_eta)))

    # -- control thread ---------------------------------------------------
    def _control_loop(self) -> None:
        connection = self._open()
        try:
            with connection.cursor() as cr:
                cr.execute("LISTEN %s" % store.NOTIFY_CHANNEL)
                cr.execute("LISTEN %s" % store.STOP_CHANNEL)
                self.wakeup.notify()  # catch what was enqueued before LISTEN
                next_beat = next_reap = next_poll = 0.0
                stops_notified = True
                # on with running jobs after stop(): their time limits and Stop hold
                while not self.stopping.is_set() or self.watchdog.running():
                    self._watch(connection, cr, stops_notified)
                    stops_notified = False
                    now = time.monotonic()
                    if now >= next_beat:
                        self._heartbeat(cr)
                        next_beat = now + self.settings.heartbeat_interval
                    if now >= next_reap:
                        self.requeue_orphans(cr)
                        next_reap = now + self.settings.reap_interval
                    if now >= next_poll:
                        self._poll_for_idle_threads(cr)
                        next_poll = now + self.settings.poll_interval
                    wake = min(next_beat, next_reap, next_poll,
                               self.watchdog.next_check() or next_poll)
                    timeout = max(0.0, wake - time.monotonic())
                    if select.select([connection], [], [], min(timeout, 1.0))[0]:
                        connection.poll()
                        channels = {notify.channel for notify in connection.notifies}
                        stops_notified = store.STOP_CHANNEL in channels
                        if any(notify.payload == store.CHANNELS_CHANGED
                               for notify in connection.notifies):
                            self.special_channels = store.special_channels_exist(cr)
                        del connection.notifies[:]
                        if channels - {store.STOP_CHANNEL}:
                            self.wakeup.notify()
        finally:
            connection.close()

    # -- the watchdog's rounds (control thread) ---------------------------------
    def _watch(self, connection, cr, stops_notified: bool) -> None:
        """Take in stop requests for the jobs running here (when notified,
        else every poll_interval), end the attempts that are due (time limit,
        stop), replace the threads stuck in ended attempts."""
        now = time.monotonic()
        running = self.watchdog.running()
        if running and (stops_notified or now >= self._next_stop_poll):
            self._next_stop_poll = now + self.settings.poll_interval
            for job_id, date_started, by in store.take_stop_requests(cr, list(running)):
                if running[job_id].job.date_started == date_started:  # this attempt's
                    running[job_id].request_stop(by, now)
        for running_attempt, reason in self.watchdog.due(now):
            self._end_attempt(connection, cr, running_attempt, reason)
        for running_attempt in self.watchdog.stuck(now):
            self._replace_thread(running_attempt)

    def _end_attempt(self, connection, cr, running, reason: str) -> None:
        """Take the attempt over, end its transaction (nothing of it can
        commit any more), interrupt its thread, record its outcome."""
        if not running.take_over(reason):
            return  # its thread is recording the outcome itself
        try:
            store.terminate_backend(cr, running.backend_pid)
        finally:
            running.terminated()
        attempt.end_taken_over(self.executor, connection, running, self.worker_id)

    def _replace_thread(self, running) -> None:
        job = running.job
        abandoned = len(self.watchdog.abandoned_threads)
        _logger.warning('job thread %s did not come back from job %s (%s.%s) after it was '
                        'ended (blocked outside Python code?): abandoned, a new job thread '
                        'replaces it (%d abandoned in %s)', running.thread.name, job.uuid,
                        job.model_name, job.method_name, abandoned, self.dbname)
        self.threads.append(self._thread(self._job_loop, 'job-%d' % (len(self.threads) - 1)))
        if abandoned == self.settings.threads:
            self.too_many_abandoned(self)

    def _poll_for_idle_threads(self, cr) -> None:
        """While job threads are disconnected, wake them when there is work
        they would not hear of (an eta passed, a slot freed elsewhere)."""
        if self._connected < self.settings.threads:
            next_eta, _ = store.next_eta(cr)
            if next_eta is not None and next_eta <= 0:
                self.wakeup.notify()

    def _heartbeat(self, cr) -> None:
        # with the heartbeat (and on a channels notification): whether
        # claims must check channels
        self.special_channels = store.special_channels_exist(cr)
        if not store.heartbeat(cr, self.worker_id):
            # Our row was removed: register again so our jobs stay ours
            # (the reaper requeues jobs whose worker row is gone).
            _logger.warning('job worker row %s vanished; registering again', self.worker_id)
            self.worker_id = store.register_worker(
                cr, self.uuid, self.host, os.getpid(), self.settings.threads)

    def requeue_orphans(self, cr) -> None:
        dead_local = [worker_id for worker_id, pid in store.local_workers(cr, self.host, self.worker_id)
                      if not process_exists(pid)]
        requeued = store.requeue_orphans(cr, self.settings.dead_after, dead_local)
        if requeued:
            _logger.warning('requeued %d jobs of dead workers: %s', len(requeued), requeued[:20])
            self.wakeup.notify()
            failed = [job_id for job_id, state in requeued if state == 'failed']
            if failed:  # committed (cr autocommits): report them, end their batches
                attempt.report_failed(self.executor, failed)
                batch_ids = store.batches_of_jobs(cr, failed)
                if batch_ids:  # in transactions of their own, on a connection of their own
                    with self._connection() as connection:
                        attempt.finish_batches(connection, batch_ids)


def process_exists(pid: int) -> bool:
    """Whether a process with this pid runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True
