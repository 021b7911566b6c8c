{
    'name': 'Peer benchmark jobs (OCA queue_job)',
    'version': '11.0.1.0.0',
    'license': 'LGPL-3',
    'depends': ['peers_bench', 'queue_job'],
    'installable': True,
}
