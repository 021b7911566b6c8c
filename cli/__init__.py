from . import queue_worker
from . import migrate_oca
