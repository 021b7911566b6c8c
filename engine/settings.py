"""The job queue's settings: one typed, read-only object.

Built from the ``[background_job]`` section by ``service/options.py``
(``settings()``), the one place that reads that section; tests build one
directly with faster clocks. Defaults come from ``engine/defaults.py``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Tuple

from . import defaults


@dataclass(frozen=True)
class Settings:
    # -- options of [background_job] (see scripts/make_config.py) --
    threads: int = defaults.THREADS
    databases: Tuple[str, ...] = defaults.DATABASES
    database_refresh: float = defaults.DATABASE_REFRESH
    # Excluded from the hash: a mapping is unhashable.
    channels: Mapping[str, int] = field(
        default_factory=lambda: defaults.CHANNELS, hash=False)
    dead_after: float = defaults.DEAD_AFTER
    timeout: int = defaults.TIMEOUT
    shutdown_timeout: float = defaults.SHUTDOWN_TIMEOUT
    idle_close: float = defaults.IDLE_CLOSE
    keep_days: int = defaults.KEEP_DAYS
    run_now: bool = defaults.RUN_NOW
    metrics_token: str = defaults.METRICS_TOKEN
    # -- constants of the worker loop (not options) --
    heartbeat_interval: float = defaults.HEARTBEAT_INTERVAL
    reap_interval: float = defaults.REAP_INTERVAL
    poll_interval: float = defaults.POLL_INTERVAL
    backoff_reset: float = defaults.BACKOFF_RESET

    def __post_init__(self) -> None:
        # A read-only copy: neither the caller's dict nor defaults.CHANNELS
        # can change a Settings shared by every thread.
        object.__setattr__(self, 'channels', MappingProxyType(dict(self.channels)))
        object.__setattr__(self, 'databases', tuple(self.databases))
