"""The worker loop: threads that claim jobs of one database and run them.

A :class:`DatabaseRunner` owns, for one database, N job threads (each with
its own autocommit connection for claims, failure reports and batch ends,
plus the Odoo cursor its jobs run in) and one
control thread (LISTEN for new jobs, heartbeat, requeue of orphaned jobs).
Running a job in Odoo is the executor's business (service/executor.py);
this module knows PostgreSQL and threads, not the ORM.

Life of a job, as in RQ: claim -> perform_job -> handle_job_success (inside
perform_job: the done state commits with the job's effects) or
handle_job_failure (the error and the retry are recorded in the job's
transaction, its work rolled back but its row still locked).
"""
from __future__ import annotations

import contextlib
import logging
import os
import random
import select
import socket
import threading
import time
import traceback
import uuid as uuidlib
from typing import Callable, Optional, Protocol

import psycopg2
import psycopg2.extensions

from . import batch, defaults, sql, store
from .exceptions import FailedJobError, RetryableJobError
from .retry import RetryPolicy
from .settings import Settings

_logger = logging.getLogger(__name__)


class Executor(Protocol):
    """Runs claimed jobs in the application (Odoo)."""

    def prepare(self) -> None:
        """Called before each claim: load what running a job needs, so that
        nothing between the claim and the job's row lock can wait."""

    def perform(self, job: store.ClaimedJob, worker_id: int, timeout: int,
                on_error: Callable) -> bool:
        """Run the job in its own transaction: lock its row
        (store.lock_for_run), run it, mark it done and commit
        (store.finish_run); return False, also when the job is not ours
        anymore. On error, roll the job's work back with its row still
        locked, call ``on_error(cursor, error)`` to record the failure in
        that transaction, commit and return what it returned; if that is
        not possible, roll back and raise the job's exception."""

    def job_options(self, job: store.ClaimedJob) -> tuple:
        """(RetryPolicy, timeout or None) of the job's method, from what
        prepare() loaded (never waits)."""

    def error_message(self, error: BaseException) -> str:
        """The human message of a job's exception."""

    def close_thread(self) -> None:
        """Called by each job thread when its loop ends or it has been idle
        for a while: release what perform() kept for this thread (its
        database cursor, with its own connection)."""

    def jobs_failed(self, job_ids: list) -> None:
        """Called once these jobs failed for good (committed): the
        application tells people (the backend notifies who enqueued them)."""


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
        # until the control thread has looked: assume some channel has a
        # capacity, so claims are checked
        self.limited_channels = True
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
                except store.ChannelFull:
                    continue  # rolled back; the next claim skips that channel
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
                    self.perform_job(connection, job)
                    if job.capacity:
                        self.wakeup.notify()  # a slot of a limited channel is free again
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
            if self.limited_channels:
                return store.claim(cr, self.worker_id)
            return store.claim_unlimited(cr, self.worker_id)

    def _idle_wait(self, connection) -> float:
        with connection.cursor() as cr:  # one statement: autocommitted
            next_eta = store.seconds_to_next_eta(cr)
        poll = self.settings.poll_interval
        return poll if next_eta is None else max(0.01, min(poll, float(next_eta)))

    def perform_job(self, connection, job: store.ClaimedJob) -> None:
        """Run one claimed job; failures are recorded, never raised."""
        started = time.monotonic()
        try:
            policy, timeout = self.executor.job_options(job)
        except Exception:
            policy, timeout = RetryPolicy(), None
        timeout = self.settings.timeout if timeout is None else timeout

        def on_error(cr, error):
            return self.handle_job_failure(cr, job, error, policy, time.monotonic() - started)
        try:
            failed = self.executor.perform(job, self.worker_id, timeout, on_error)
        except Exception as error:  # rolled back, not recorded: record it now
            try:
                with transaction(connection) as cr:
                    failed = on_error(cr, error)
            except store.NotRecorded:  # logged by store; the reaper retries it
                failed = False
        if failed:
            self.report_failed([job.id])
        self.finish_batches(connection, batch.batches_ended_by(job))

    def finish_batches(self, connection, batch_ids) -> None:
        """After a child's transaction committed: if it was the last one,
        end its batch (enqueue the done method, or mark it done), then the
        batches around it (nested batches). One transaction per level, each
        beginning after the previous one committed (see store.finish_batches)."""
        while batch_ids:
            with transaction(connection) as cr:
                batch_ids = store.finish_batches(cr, batch_ids)

    def handle_job_failure(self, cr, job, error, policy: RetryPolicy,
                           exec_time: float) -> bool:
        """Record the error in ``cr``'s transaction: retry later or fail.
        True if the job failed for good (to report once committed)."""
        retry, delay, count = decide_retry(job.retry, error, policy)
        message = self.executor.error_message(error)
        log = _logger.info if retry else _logger.error
        log('job %s (%s.%s) failed%s: %s', job.uuid, job.model_name, job.method_name,
            ', retry in %ss' % delay if retry else '', message)
        recorded = store.mark_failed(
            cr, job.id, self.worker_id, retry=retry, delay=delay, count_retry=count,
            exec_time=exec_time, exc_type=type(error).__name__, exc_message=message,
            exc_info=''.join(traceback.format_exception(type(error), error,
                                                        error.__traceback__)))
        if not recorded:
            _logger.warning('job %s was no longer this worker\'s: its failure is not recorded',
                            job.uuid)
        return recorded and not retry

    def report_failed(self, job_ids: list) -> None:
        """Pass jobs that failed for good to the executor; a problem there
        (e.g. the notification) is logged and never stops the worker."""
        try:
            self.executor.jobs_failed(job_ids)
        except Exception:
            _logger.exception('could not report failed jobs %s', job_ids)

    # -- control thread ---------------------------------------------------
    def _control_loop(self) -> None:
        connection = self.connect()
        connection.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        try:
            with connection.cursor() as cr:
                cr.execute('LISTEN %s' % sql.CHANNEL)
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
            next_eta = store.seconds_to_next_eta(cr)
            if next_eta is not None and next_eta <= 0:
                self.wakeup.notify()

    def _heartbeat(self, cr) -> None:
        # with the heartbeat: whether claims must check channel capacities
        self.limited_channels = store.limited_channels_exist(cr)
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
                self.report_failed(failed)
                self._finish_batches_of(cr, failed)

    def _finish_batches_of(self, cr, job_ids) -> None:
        """Jobs failed for good by the reaper (``cr`` autocommits: that is
        committed) may have been the last of their batches. Finishing takes a
        transaction of its own, on a connection of its own."""
        batch_ids = store.batches_of_jobs(cr, job_ids)
        if batch_ids:
            with self._connection() as connection:
                self.finish_batches(connection, batch_ids)


@contextlib.contextmanager
def transaction(connection):
    """A transaction on an autocommit connection: BEGIN, then COMMIT, or
    ROLLBACK when the block raises."""
    with connection.cursor() as cr:
        cr.execute('BEGIN')
        try:
            yield cr
        except BaseException:
            if not connection.closed:
                cr.execute('ROLLBACK')
            raise
        cr.execute('COMMIT')


def decide_retry(retry_count: int, error: BaseException, policy: RetryPolicy):
    """(retry?, delay in seconds, count as a retry?) for a failed attempt."""
    if isinstance(error, FailedJobError):
        return False, 0, False
    if isinstance(error, RetryableJobError):
        if error.ignore_retry or policy.can_retry(retry_count):
            return True, policy.next_delay(retry_count, error.seconds), True
        return False, 0, False
    if isinstance(error, psycopg2.extensions.TransactionRollbackError):
        # serialization failure or deadlock: another transaction won; the
        # job itself is fine, so run it again soon
        if policy.can_retry(retry_count):
            return True, defaults.CONFLICT_RETRY_DELAY + random.random(), True
        return False, 0, False
    if policy.can_retry(retry_count):
        return True, policy.next_delay(retry_count), True
    return False, 0, False


def process_exists(pid: int) -> bool:
    """Whether a process with this pid runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
