from . import models
from . import cli
from . import controllers
from .service.decorator import job
from .service.delayable import chain, group
from .engine.job_method import related_action
from .engine.identity import identity_exact
from .engine.exceptions import FailedJobError, JobError, JobTimeoutError, RetryableJobError
from .service.server import post_load


def uninstall_hook(cr, registry):
    from .engine import schema
    schema.uninstall(cr)
