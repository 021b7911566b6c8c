"""Every default of the addon, defined here once.

Two kinds:
- options of the ``[background_job]`` section (odoo.conf), parsed into
  ``engine.settings.Settings`` by ``service/options.py``: THREADS, PROCESSES,
  DATABASES, DATABASE_REFRESH, CHANNELS, DEAD_AFTER, NETWORK_TIMEOUT, TIMEOUT,
  SHUTDOWN_TIMEOUT, IDLE_CLOSE, KEEP_DAYS, RUN_NOW, METRICS_TOKEN;
- constants, changed only in code (tests pass faster clocks to
  ``Settings``): HEARTBEAT_INTERVAL, REAP_INTERVAL, POLL_INTERVAL,
  BACKOFF_RESET, RESULT_MAX_CHARS, DEAD_CLIENT_CHECK_MS, CONFLICT_RETRY_DELAY,
  STATEMENT_TIMEOUT_MARGIN, PROGRESS_WRITE_INTERVAL, PROGRESS_MESSAGE_MAX_CHARS,
  and a job's defaults CHANNEL, PRIORITY, MAX_RETRIES, JOB_SIZE (``@job(...)`` and
  ``with_delay(...)`` override them per method and per call).
"""

# -- options of [background_job] ------------------------------------------------
# Worker threads per database in one server process; 0: none.
THREADS = 4
# Job processes of a server (engine/processes.py), each with THREADS
# threads; 0: the threaded server and ``odoo queue-worker`` run the job
# threads in their own process, the prefork server in one job process.
PROCESSES = 0
# Databases to serve; empty: db_name, else every database matching dbfilter
# where the addon is installed.
DATABASES = ()
# How often the list of databases to serve is refreshed, in seconds.
DATABASE_REFRESH = 30
# Channel capacities applied when a channel has no row yet; 0: no limit
# (the worker threads of each process bound what runs at once).
CHANNELS = {'root': 0}
# Seconds without a heartbeat after which a worker counts as dead and its
# started jobs are requeued; with HEARTBEAT_INTERVAL and REAP_INTERVAL it
# bounds how long a crashed job waits before it runs again (< 60 s).
DEAD_AFTER = 30
# Seconds after which a connection of the engine or of a job whose other end
# went silent (a machine lost, a network cut: no FIN, no RST) is dropped, on
# both ends: TCP keepalives while it is idle, tcp_user_timeout while data is
# unacknowledged. PostgreSQL then ends the lost worker's sessions, rolling
# back its jobs and releasing their row locks, so that the reaper can requeue
# them once DEAD_AFTER has passed: keep it below DEAD_AFTER. 0: the
# operating system's defaults (hours).
NETWORK_TIMEOUT = 20
# Seconds a job may run, wall clock, whatever it does (engine/watchdog.py);
# 0: no limit. @job(timeout=) and with_delay(timeout=) win.
TIMEOUT = 3600
# Seconds running jobs get to finish when the worker is told to stop
# (SIGTERM, SIGINT); then they are ended and requeued without a retry.
SHUTDOWN_TIMEOUT = 20
# Seconds a job thread stays connected without work; then it closes its
# two connections until work comes (an idle database costs one connection
# per process: the control thread's). It wakes on a notification, or when
# the control thread's poll (POLL_INTERVAL) finds work it could claim.
IDLE_CLOSE = 10
# Days done and cancelled jobs are kept before the cleanup cron removes them.
KEEP_DAYS = 7
# Run delayed calls at once, in the caller's transaction (scripts, tests).
RUN_NOW = False
# The bearer token of GET /background_job/metrics; empty: the route is off (404).
METRICS_TOKEN = ''

# -- constants ------------------------------------------------------------------
HEARTBEAT_INTERVAL = 5
REAP_INTERVAL = 5
# Idle workers wake on NOTIFY within milliseconds; this poll only catches
# jobs whose eta passed, and notifications lost with a broken connection.
POLL_INTERVAL = 2.0
# A worker loop that lost its connection restarts after 1, 2, 4 ... 30 s;
# one that ran this many seconds since its last restart starts again at 1 s.
BACKOFF_RESET = 60
# A job's result is stored as text up to this many characters.
RESULT_MAX_CHARS = 10000
# Retry delay after a serialization failure, a deadlock or a lost database
# connection (seconds, counted).
CONFLICT_RETRY_DELAY = 1
# A job's statements also run under PostgreSQL's statement_timeout, this
# many seconds beyond its time limit: a safety net should the watchdog (in
# the control thread) be cut off from the database.
STATEMENT_TIMEOUT_MARGIN = 30
# A job's session checks every this many milliseconds, while a statement
# runs, that its process still exists (PostgreSQL >= 14): a dead job process
# does not keep a job's row locked until a long statement ends.
DEAD_CLIENT_CHECK_MS = 1000
# A running job's progress (set_progress) is written at most this often,
# in seconds, and once when its attempt ends.
PROGRESS_WRITE_INTERVAL = 0.5
# A progress message is stored up to this many characters.
PROGRESS_MESSAGE_MAX_CHARS = 500

# -- a job's defaults -----------------------------------------------------------
# The channel of a job whose method and call name none.
CHANNEL = 'root'
# Lower runs first.
PRIORITY = 10
# Retries after a failure before the job fails for good (0: never retry).
# Five ride out the usual transient causes (lock timeouts, serialization
# failures, a remote API blip) without hammering a job that is broken.
MAX_RETRIES = 5
# Record ids per job of a batch (delay_batch, batch_execute_job).
JOB_SIZE = 100
