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

# Keepalive probes unanswered before a connection counts as dead.
KEEPALIVE_PROBES = 3


@dataclass(frozen=True)
class Settings:
    # -- options of [background_job] (see scripts/make_config.py) --
    threads: int = defaults.THREADS
    processes: int = defaults.PROCESSES
    databases: Tuple[str, ...] = defaults.DATABASES
    database_refresh: float = defaults.DATABASE_REFRESH
    # Excluded from the hash: a mapping is unhashable.
    channels: Mapping[str, int] = field(
        default_factory=lambda: defaults.CHANNELS, hash=False)
    dead_after: float = defaults.DEAD_AFTER
    network_timeout: int = defaults.NETWORK_TIMEOUT
    timeout: int = defaults.TIMEOUT
    shutdown_timeout: float = defaults.SHUTDOWN_TIMEOUT
    idle_close: float = defaults.IDLE_CLOSE
    keep_days: int = defaults.KEEP_DAYS
    run_now: bool = defaults.RUN_NOW
    metrics_token: str = defaults.METRICS_TOKEN
    # -- Odoo's own options ([options]), which job processes honour --
    # resident bytes after which a job process is replaced once its
    # running jobs end (limit_memory_soft), and killed (limit_memory_hard);
    # 0: no limit
    memory_soft: int = 0
    memory_hard: int = 0
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

    def connection_parameters(self, server_options: str = '') -> dict:
        """libpq keyword parameters of the engine's and the jobs'
        connections: how both ends drop a silent peer within
        ``network_timeout`` seconds (TCP keepalives: probes once the
        connection was idle half of it; tcp_user_timeout: the bound, also
        for data sent and never acknowledged). ``server_options``: more
        ``-c name=value`` settings of the session."""
        timeout = self.network_timeout
        if not timeout:
            return {'options': server_options} if server_options else {}
        idle = max(1, timeout // 2)
        interval = max(1, (timeout - idle) // KEEPALIVE_PROBES)
        client = {'keepalives': 1, 'keepalives_idle': idle, 'keepalives_interval': interval,
                  'keepalives_count': KEEPALIVE_PROBES, 'tcp_user_timeout': timeout * 1000}
        # the same on PostgreSQL's end (its settings of the session)
        server = ('-c tcp_keepalives_idle=%d -c tcp_keepalives_interval=%d '
                  '-c tcp_keepalives_count=%d -c tcp_user_timeout=%d'
                  % (idle, interval, KEEPALIVE_PROBES, timeout * 1000))
        return dict(client, options=(server_options + ' ' + server).strip())
