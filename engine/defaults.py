"""Defaults of the engine, each overridable in the [background_job] section."""

# Worker threads per database in one server process.
THREADS = 4
# Seconds without a heartbeat after which a worker counts as dead and its
# started jobs are requeued; with HEARTBEAT_INTERVAL and REAP_INTERVAL it
# bounds how long a crashed job waits before it runs again (< 60 s).
DEAD_AFTER = 30
HEARTBEAT_INTERVAL = 5
REAP_INTERVAL = 5
# Seconds a job thread stays connected without work; then it closes its
# two connections until work comes (an idle database costs one connection
# per process: the control thread's). It wakes on a notification, or when
# the control thread's poll (POLL_INTERVAL) finds work it could claim.
IDLE_CLOSE = 10
# Idle workers wake on NOTIFY within milliseconds; this poll only catches
# jobs whose eta passed, and notifications lost with a broken connection.
POLL_INTERVAL = 2.0
# A worker loop that lost its connection restarts after 1, 2, 4 ... 30 s;
# one that ran this many seconds since its last restart starts again at 1 s.
BACKOFF_RESET = 60
# Seconds a job may run (PostgreSQL statement_timeout); 0: no limit.
TIMEOUT = 3600
# Channel capacities applied when a channel has no row yet; 0: no limit
# (the worker threads of each process bound what runs at once).
CHANNELS = {'root': 0}
# Days done and cancelled jobs are kept before the cleanup cron removes them.
KEEP_DAYS = 7
# How often the list of databases to serve is refreshed, in seconds.
DATABASE_REFRESH = 30
# A job's result is stored as text up to this many characters.
RESULT_MAX_CHARS = 10000
# Retry delay after a serialization failure or deadlock (seconds, counted).
CONFLICT_RETRY_DELAY = 1
# The channel of a job that names none.
CHANNEL = 'root'
# A job's priority unless it names one: lower runs first.
PRIORITY = 10
# Retries of a failing job unless it names its own (0: never retried).
MAX_RETRIES = 5
