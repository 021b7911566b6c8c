"""The worker loop: threads that claim jobs of one database and hand them
to the attempt (engine/attempt.py).

A :class:`DatabaseRunner` owns, for one database:

- N job threads: each loops claim -> ``attempt.perform`` (lock, run, done
  or failure, report, batch endings), with its own autocommit connection
  for claims, failure records and batch endings, plus the executor's cursor
  its jobs run in; both are closed after ``idle_close`` seconds without work;
- one control thread: LISTEN for new jobs (wakes the job threads),
  heartbeat of the worker row, the reaper (requeue or fail the jobs of dead
  workers, then report and end batches as an attempt does), and a poll for
  work while job threads are disconnected.

Running a job in Odoo is the executor's business (service/executor.py);
this module knows PostgreSQL and threads, not the ORM.
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

from . import attempt, defaults, store
from .attempt import transaction
from .settings import Settings

_logger = logging.getLogger(__name__)


class Executor(attempt.WorkerApplication, Protocol):
    """Runs claimed jobs in the application (Odoo): what an attempt needs
    (engine/attempt.py), and what the loop needs around it."""

    def prepare(self) -> None:
        """Called before each claim: load what running a job needs, so that
        nothing between the claim and the job's row lock can wait."""


class Wakeup:
    """Lets idle job threads sleep until new work may be there. A generation
    counter instead of a bare event: a notification that arrives between a
    thread's empty claim and its wait is not lost."""

    def __init__(self):
        self._condition = threading.Condition()
        self._generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    def notify(self) -> None:
        with self._condition:
            self._generation += 1
            self._condition.notify_all()

    def wait(self, seen: int, timeout: Optional[float]) -> None:
        with self._condition:
            self._condition.wait_for(lambda: self._generation != seen, timeout)


class DatabaseRunner:
    """Serves one database: registers a worker row, runs the threads."""

    def __init__(self, dbname: str, connect: Callable[[], 'psycopg2.extensions.connection'],
                 executor: Executor, settings: Settings):
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
        # job threads that hold a connection; for the others, the control
        # thread polls for work (_poll_for_idle_threads)
        self._connected = 0
        self._connected_lock = threading.Lock()

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

    def stop(self, timeout: float = 30) -> None:
        """Let running jobs finish (up to ``timeout``), then unregister."""
        self.stopping.set()
        self.wakeup.notify()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0, deadline - time.monotonic()))
        if not any(thread.is_alive() for thread in self.threads):
            try:
                with self._connection() as connection, transaction(connection) as cr:
                    store.unregister_worker(cr, self.worker_id)
            except psycopg2.Error:
                _logger.warning('could not unregister job worker %s', self.worker_id)

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
            except psycopg2.OperationalError:
                _logger.warning('job worker lost its database connection to %s; '
                                'retrying in %ss', self.dbname, backoff, exc_info=True)
            except Exception:
                _logger.exception('job worker loop of %s crashed; restarting it', self.dbname)
            if time.monotonic() - started >= self.settings.backoff_reset:
                backoff = 1
            self.stopping.wait(backoff)
            backoff = min(backoff * 2, 30)

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
                    attempt.perform(self.executor, connection, job, self.worker_id,
                                    self.settings.timeout)
                    if job.limited or job.lock_key:
                        self.wakeup.notify()  # a channel's slot or a key is free again
                idle_since = time.monotonic()
        finally:
            if connection is not None:
                self._disconnect(connection)

    def _job_connection(self):
        # autocommit, so that a claim costs two round trips (store.claim);
        # everything else on it runs in explicit transactions (transaction())
        connection = self.connect()
        connection.autocommit = True
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
        connection = self.connect()
        connection.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        try:
            with connection.cursor() as cr:
                cr.execute("LISTEN %s" % store.NOTIFY_CHANNEL)
                self.wakeup.notify()  # catch what was enqueued before LISTEN
                next_beat = next_reap = next_poll = 0.0
                while not self.stopping.is_set():
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
                    timeout = max(0.0, min(next_beat, next_reap, next_poll) - time.monotonic())
                    if select.select([connection], [], [], min(timeout, 1.0))[0]:
                        connection.poll()
                        if connection.notifies:
                            if any(notify.payload == store.CHANNELS_CHANGED
                                   for notify in connection.notifies):
                                self.special_channels = store.special_channels_exist(cr)
                            del connection.notifies[:]
                            self.wakeup.notify()
        finally:
            connection.close()

    def _poll_for_idle_threads(self, cr) -> None:
        """While job threads have closed their connections, look for work
        they would not hear of (an eta passed, a slot freed on another
        server, more than the connected threads take) on this connection,
        and wake them when there is some."""
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
            if failed:
                attempt.report_failed(self.executor, failed)
                self.finish_batches_of_jobs(cr, failed)

    def finish_batches_of_jobs(self, cr, job_ids) -> None:
        """Jobs failed for good by the reaper (``cr`` autocommits: that is
        committed) may have been the last of their batches. Finishing takes a
        transaction of its own, on a connection of its own."""
        batch_ids = store.batches_of_jobs(cr, job_ids)
        if batch_ids:
            with self._connection() as connection:
                attempt.finish_batches(connection, batch_ids)


def process_exists(pid: int) -> bool:
    """Whether a process with this pid runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
