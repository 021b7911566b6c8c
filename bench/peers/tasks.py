"""The Celery task and the RQ job of ``make bench-peers``: a benchmark method
in an Odoo environment, as the Odoo integrations of Celery run their tasks.

A worker process loads the registry once (Celery: at worker start, before
its pool of 4 threads; RQ: before each SimpleWorker's loop); each task opens
an environment on a new cursor, calls the method on its records and
commits, then counts itself done in Redis (how the benchmark sees a Celery
or RQ job finish; one INCR, about what Celery's own bookkeeping costs).
Settings come from the environment: PEERS_ODOO_CONF, PEERS_DB,
PEERS_REDIS_URL.
"""
import os

import celery
import celery.signals
import redis

MODEL = 'peers.bench.record'
DONE_KEY = 'peers:done'
RQ_QUEUE = 'peers'
REDIS_URL = os.environ.get('PEERS_REDIS_URL', 'redis://127.0.0.1:6379/0')

app = celery.Celery('peers', broker=REDIS_URL)
app.conf.update(broker_connection_retry_on_startup=True, task_ignore_result=True,
                worker_hijack_root_logger=False)
connection = redis.Redis.from_url(REDIS_URL)
registry = None


def load_registry():
    global registry
    import odoo
    db = os.environ['PEERS_DB']
    odoo.tools.config.parse_config(['-c', os.environ['PEERS_ODOO_CONF'], '-d', db,
                                    '--log-level=warn'])
    registry = odoo.registry(db)


@celery.signals.worker_init.connect
def _load_registry_once(**_):
    load_registry()


def run_in_odoo(method, ids, args):
    """``env[MODEL].browse(ids).method(*args)`` in its own transaction."""
    from odoo import SUPERUSER_ID, api
    with api.Environment.manage(), registry.cursor() as cr:
        getattr(api.Environment(cr, SUPERUSER_ID, {})[MODEL].browse(ids), method)(*args)
    connection.incr(DONE_KEY)


celery_task = app.task(name='peers.run_in_odoo')(run_in_odoo)


def work_rq():
    """One RQ SimpleWorker (jobs in this process: the forking Worker would
    open a database connection per job) on the benchmark's queue."""
    import rq
    load_registry()
    # warnings only, as the other systems log: RQ logs every job at INFO
    rq.SimpleWorker([rq.Queue(RQ_QUEUE, connection=connection)], connection=connection).work(
        logging_level='WARNING')
