"""Serve every database that should be served, picking up new ones."""
from __future__ import annotations

import logging
import threading
from typing import Callable, Dict, Iterable, Optional

from . import defaults
from .worker import DatabaseRunner

_logger = logging.getLogger(__name__)


class Manager:
    """Keeps one DatabaseRunner per database that ``list_databases`` names,
    refreshing the list every ``refresh`` seconds (a database created or
    dropped later is picked up without restart)."""

    def __init__(self, list_databases: Callable[[], Iterable[str]],
                 make_runner: Callable[[str], DatabaseRunner],
                 refresh: float = defaults.DATABASE_REFRESH):
        self.list_databases = list_databases
        self.make_runner = make_runner
        self.refresh = refresh
        self.runners: Dict[str, DatabaseRunner] = {}
        self.stopping = threading.Event()
        self.thread = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, name='background_job manager',
                                       daemon=True)
        self.thread.start()

    def stop(self, timeout: Optional[float] = None) -> None:
        """Stop every runner together: claims stop at once, running jobs get
        ``timeout`` seconds (default: the runners' shutdown_timeout), then
        the rest are ended and requeued (DatabaseRunner.stop)."""
        self.stopping.set()
        if self.thread:
            self.thread.join(5)  # a runner that is starting (connecting)
        runners = list(self.runners.values())
        for runner in runners:
            runner.begin_stop(timeout)
        for runner in runners:
            runner.finish_stop()
        self.runners.clear()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self.sync()
            except Exception:
                _logger.exception('could not refresh the databases to serve')
            self.stopping.wait(self.refresh)

    def sync(self) -> None:
        wanted = set(self.list_databases())
        for dbname in sorted(wanted - set(self.runners)):
            if self.stopping.is_set():
                return
            runner = self.make_runner(dbname)
            runner.start()
            self.runners[dbname] = runner
        for dbname in set(self.runners) - wanted:
            _logger.info('database %s is no longer served', dbname)
            self.runners.pop(dbname).stop()
