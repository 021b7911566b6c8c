{
    'name': 'Peer benchmark jobs',
    'summary': 'The jobs make bench-peers runs on every queue (plain methods)',
    'version': '11.0.1.0.0',
    'license': 'LGPL-3',
    'depends': ['base'],
    'data': ['ir.model.access.csv'],
    'installable': True,
}
