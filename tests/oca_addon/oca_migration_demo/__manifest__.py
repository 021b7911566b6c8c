{
    'name': 'OCA migration demo',
    'summary': 'A module written for OCA queue_job, ported by tests/test_oca_migration.py',
    'version': '11.0.1.0.0',
    'license': 'LGPL-3',
    'depends': ['queue_job'],
    'data': ['ir.model.access.csv'],
    'installable': True,
}
