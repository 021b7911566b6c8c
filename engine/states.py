"""Job states and which transitions the engine and admins may make."""

WAITING = 'waiting'      # a batch parent waiting for its children
PENDING = 'pending'      # ready to be claimed once its eta has passed
STARTED = 'started'      # claimed by a worker, running
DONE = 'done'
FAILED = 'failed'        # out of retries, or FailedJobError
CANCELLED = 'cancelled'

SELECTION = [
    (WAITING, 'Waiting'),
    (PENDING, 'Pending'),
    (STARTED, 'Running'),
    (DONE, 'Done'),
    (FAILED, 'Failed'),
    (CANCELLED, 'Cancelled'),
]

FINISHED = frozenset({DONE, FAILED, CANCELLED})

# Admin actions: the states each one may start from. A started job is never
# changed by hand: its worker holds the row lock until it finishes (Stop
# asks that worker to end it).
REQUEUE_FROM = frozenset({FAILED, CANCELLED, DONE})
CANCEL_FROM = frozenset({WAITING, PENDING})
SET_DONE_FROM = frozenset({WAITING, PENDING, FAILED})
RUN_NOW_FROM = frozenset({PENDING, FAILED})
# Stop (queue.job.stop()) is for running jobs only: their worker ends them.
STOP_FROM = frozenset({STARTED})
