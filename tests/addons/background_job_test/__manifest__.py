{
    'name': 'Background Jobs: test jobs',
    'summary': 'Job methods used by the tests and benchmarks of background_job',
    'version': '11.0.1.0.0',
    'license': 'LGPL-3',
    'depends': ['background_job'],
    'data': ['ir.model.access.csv', 'company_rule.xml'],
    'installable': True,
}
