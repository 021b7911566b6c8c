"""Exceptions raised by job code and by the engine."""


class JobError(Exception):
    """Base class of this addon's exceptions."""


class RetryableJobError(JobError):
    """Raised by job code to ask for a retry, after ``seconds`` if given.

    The job's changes are rolled back; it runs again unless it is out of
    retries (``ignore_retry=True`` retries even then).
    """

    def __init__(self, message='', seconds=None, ignore_retry=False):
        super().__init__(message)
        self.seconds = seconds
        self.ignore_retry = ignore_retry


class FailedJobError(JobError):
    """Raised by job code to fail the job at once, without retrying."""


class NotAJobError(JobError):
    """Raised when a job names a method that is not decorated with @job."""


class RecordsGoneError(FailedJobError):
    """Raised when every record a job was enqueued on has been deleted."""


class JobLostError(JobError):
    """Raised when a running job's row is no longer its worker's (requeued,
    cancelled or changed meanwhile): the attempt stops, records nothing."""


class JobTimeoutError(JobError):
    """Raised when a job ran longer than its time limit: its transaction was
    ended at the limit (nothing of it commits) and it is retried per its
    policy. ``stack``: where the job was when it was ended."""

    def __init__(self, limit, stack=None):
        super().__init__('ran longer than %s s' % limit)
        self.limit = limit
        self.stack = stack


class JobStoppedError(FailedJobError):
    """Raised when a user stopped a running job (queue.job.stop()): its
    transaction is rolled back, it ends cancelled and is never retried."""

    def __init__(self, by, stack=None):
        super().__init__('stopped by %s' % by)
        self.by = by
        self.stack = stack


class JobInterrupted(BaseException):
    """Raised inside a running job's thread when its attempt was ended (time
    limit, Stop, shutdown) while the job's own code ran: a BaseException, so
    that job code's ``except Exception`` does not swallow it. The attempt
    records JobTimeoutError or JobStoppedError instead."""
