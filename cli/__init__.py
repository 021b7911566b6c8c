from . import queue_worker
