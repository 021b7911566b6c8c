from . import test_record
from . import company_record
