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
