from . import main
from . import metrics
from . import live
