from . import test_record
from . import test_record_attempt
from . import company_record
from . import chains_record
from . import oca_record
from . import limits_jobs
from . import faults_record
