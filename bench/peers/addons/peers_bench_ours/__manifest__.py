{
    'name': 'Peer benchmark jobs (background_job)',
    'version': '11.0.1.0.0',
    'license': 'LGPL-3',
    'depends': ['peers_bench', 'background_job'],
    'installable': True,
}
