from . import queue_job_channel
from . import queue_job_worker
from . import queue_job
from . import queue_job_batch
from . import background_job_demo
from . import base
from . import ir_ui_menu
