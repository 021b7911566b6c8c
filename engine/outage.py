"""Database outages: which errors mean the connection is gone, and one log
line per outage, however many threads notice it.

A PostgreSQL restart or failover, or pg_terminate_backend of every session,
cuts all of a worker's connections at once: its control thread and each
job thread find out on their own, at their next statement, and reconnect
with backoff (engine/worker.py). Each would log the same thing; instead
they tell :class:`Outages`, which logs the outage when it begins and once
more when a connection works again.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Optional

import psycopg2
import psycopg2.errors

_logger = logging.getLogger(__name__)

# Errors of a session the server ended or could not keep: the 08 class
# (connection exceptions), admin_shutdown (pg_terminate_backend, a fast
# shutdown), crash_shutdown, cannot_connect_now (starting, shutting down).
_SESSION_ENDED = (
    psycopg2.errors.ConnectionException, psycopg2.errors.ConnectionFailure,
    psycopg2.errors.ConnectionDoesNotExist,
    psycopg2.errors.SqlclientUnableToEstablishSqlconnection,
    psycopg2.errors.AdminShutdown, psycopg2.errors.CrashShutdown,
    psycopg2.errors.CannotConnectNow)


def connection_lost(error: BaseException) -> bool:
    """Whether ``error`` says the connection is gone (rather than that a
    statement failed): raised by libpq, without a SQLSTATE, as a plain
    OperationalError (server closed the connection, timed out, refused),
    by the server as it ends the session, or by psycopg2 for a connection
    already closed. A statement's errors are subclasses of their SQLSTATE."""
    return (isinstance(error, psycopg2.InterfaceError)
            or type(error) is psycopg2.OperationalError
            or isinstance(error, _SESSION_ENDED))


def first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


class Outages:
    """Counts the outages of one database's connections and logs each
    once. A thread calls :meth:`opened` when its connection is open (which
    ends an outage) and keeps the number it returns; when that connection
    is lost it calls :meth:`lost` with it. A connection opened before the
    current outage began was cut by that outage, reported already; the
    first loss of a connection opened since is a new outage."""

    def __init__(self, dbname: str, logger: logging.Logger = _logger):
        self.dbname = dbname
        self.logger = logger
        self.count = 0  # outages so far (tests and monitoring read it)
        self._since: Optional[float] = None  # the current outage's start
        self._lock = threading.Lock()

    def opened(self) -> int:
        """A connection works: the current outage, if any, is over. Returns
        the token to give to :meth:`lost` when this connection is lost."""
        with self._lock:
            if self._since is not None:
                self.logger.info('job worker reconnected to %s after %.1f s',
                                 self.dbname, time.monotonic() - self._since)
                self._since = None
            return self.count

    def lost(self, token: Optional[int], error: BaseException, retry_in: float) -> None:
        """A thread's connection (opened at ``token``; None: it had none
        yet) is lost, or a new one could not be opened; it tries again in
        ``retry_in`` seconds."""
        with self._lock:
            new = token == self.count if token is not None else self._since is None
            if new:
                self.count += 1
                self._since = time.monotonic()
                self.logger.warning(
                    'job worker lost its connections to %s (%s); reconnecting with backoff '
                    '(logged once per outage)', self.dbname, first_line(error))
            else:
                self.logger.debug('job worker thread lost its connection to %s too; '
                                  'retrying in %ss', self.dbname, retry_in)
