"""The four queues of ``make bench-peers``, behind one small interface:
``build()`` (database), ``start()``, ``pause()``, ``resume()``, ``kill()``
(-9) and ``stop()`` (the workers), ``enqueue(method, calls)`` (as its users
enqueue: in one transaction for the Odoo queues, one call each for Celery
and RQ), ``done_count()`` (jobs finished so far), ``watch()`` (a query)."""
import os
import signal

import bench.__main__ as engine_bench
from tests.odoo_server import OdooServer, free_port, wait_until

from . import odoo_env, venv
from .processes import Workers, signal_all

THREADS = 4


class System:
    name = modules = None
    extra_addons = ()

    def __init__(self, prefix, env):
        self.db = '%s_%s' % (prefix, self.name)
        self.env = dict(env, PEERS_DB=self.db)
        self.log = os.path.join(odoo_env.OUTPUT, self.name + '.log')
        self.config = self.client = self.workers = self.watcher = None

    def config_sections(self):
        return {}

    def build(self):
        open(self.log, 'w').close()  # this run's workers only (restarts append)
        self.config = odoo_env.write_config(self.name, self.db, self.extra_addons,
                                            self.config_sections())
        odoo_env.build_database(self.config, self.db, self.modules)
        self.env['PEERS_ODOO_CONF'] = self.config
        engine_bench.use_database(self.db)
        self.client = odoo_env.OdooClient(self.config, self.db)
        # one connection for the benchmark's polling: a connection per poll
        # would cost PostgreSQL more than the jobs measured
        self.watcher = engine_bench.connect()
        self.watcher.autocommit = True

    def watch(self, statement, params=None):
        """The first row of ``statement``, on the polling connection."""
        with self.watcher.cursor() as cr:
            cr.execute(statement, params)
            return cr.fetchone()

    def start(self):
        self.workers.start()

    @property
    def pids(self):
        return self.workers.pids

    def pause(self):
        """SIGSTOP the workers: jobs enqueued meanwhile wait, released at once
        by resume()."""
        signal_all(self.pids, signal.SIGSTOP)

    def resume(self):
        signal_all(self.pids, signal.SIGCONT)

    def kill(self):
        self.workers.kill()

    def stop(self):
        if self.workers:
            self.resume()
            self.workers.stop()
        if self.watcher:
            self.watcher.close()

    def done_count(self):
        return self.watch("SELECT count(*) FROM queue_job WHERE state = 'done'")[0]


class Ours(System):
    name, modules = 'ours', 'peers_bench_ours'

    def build(self):
        super().build()
        self.workers = Workers(
            [[venv.ODOO, '--addons-path=' + odoo_env.addons_path(self.config), 'queue-worker',
              '-c', self.config, '-d', self.db, '--log-level=warn']], self.log, self.registered)

    def registered(self, pids):
        return self.watch("SELECT 1 FROM queue_job_worker WHERE pid = %s", (pids[0],))

    def enqueue(self, method, calls):
        with self.client.records() as records:
            for args in calls:
                getattr(records, method).delay(*args)


class OursProcesses(Ours):
    """This addon with job processes: ``odoo queue-worker --processes 2``,
    a supervisor and 2 job processes of 4 threads each."""
    name = 'ours_processes'
    processes = 2

    def build(self):
        super().build()
        self.workers.commands[0] += ['--processes', str(self.processes)]

    @property
    def pids(self):
        """The supervisor and its job processes: SIGSTOP, SIGCONT and kill
        -9 reach them all."""
        return self.workers.pids + [child for pid in self.workers.pids
                                    for child in _children(pid)]

    def registered(self, pids):
        children = [child for pid in pids for child in _children(pid)]
        return len(children) == self.processes and self.watch(
            'SELECT count(*) = %s FROM queue_job_worker WHERE pid = ANY(%s) '
            'AND date_stopped IS NULL', (self.processes, children))[0]

    def kill(self):
        signal_all(self.pids, signal.SIGKILL)
        self.workers.kill()


def _children(pid):
    """Pids of a process's children (Linux)."""
    try:
        with open('/proc/%d/task/%d/children' % (pid, pid)) as handle:
            return [int(child) for child in handle.read().split()]
    except OSError:
        return []


class Oca(System):
    name, modules = 'oca', 'peers_bench_oca'
    extra_addons = (venv.OCA_ADDONS,)

    def config_sections(self):
        # its runner calls /queue_job/runjob on the server's own HTTP port
        self.port = free_port()
        return {'queue_job': {'channels': 'root:%d' % THREADS, 'scheme': 'http',
                              'host': '127.0.0.1', 'port': str(self.port)}}

    def build(self):
        super().build()
        # jobs run in the threads of this server's HTTP requests
        self.workers = OdooServer(self.db, name='bench-peers-oca', command=[
            venv.ODOO, '-c', self.config, '-d', self.db, '--db-filter=^%s$' % self.db,
            '--load=web,queue_job', '--log-level=warn',
            '--log-handler=odoo.addons.queue_job.jobrunner.runner:INFO'])
        self.workers.port, self.workers.longpolling_port = self.port, free_port()

    def start(self):
        self.workers.start()
        wait_until(lambda: 'queue job runner ready' in self.workers.log_text(since_start=True),
                   60, 'the OCA job runner')

    @property
    def pids(self):
        return [self.workers.pid]

    def enqueue(self, method, calls):
        with self.client.records() as records:
            for args in calls:
                getattr(records.with_delay(), method)(*args)


class RedisSystem(System):
    modules = 'peers_bench'

    def build(self):
        super().build()
        from . import tasks
        self.tasks = tasks
        tasks.connection.delete(tasks.DONE_KEY)

    def done_count(self):
        return int(self.tasks.connection.get(self.tasks.DONE_KEY) or 0)


class Celery(RedisSystem):
    name = 'celery'

    def build(self):
        super().build()
        self.workers = Workers(
            [[venv.PYTHON, '-m', 'celery', '-A', 'bench.peers.tasks', 'worker', '--pool',
              'threads', '--concurrency', str(THREADS), '--loglevel', 'warning',
              '--without-gossip', '--without-mingle']],
            self.log, lambda pids: self.tasks.app.control.ping(timeout=0.5), self.env)

    def enqueue(self, method, calls):
        for args in calls:
            self.tasks.celery_task.delay(method, [self.client.record_id], list(args))


class Rq(RedisSystem):
    name = 'rq'

    def build(self):
        super().build()
        import rq
        self.queue = rq.Queue(self.tasks.RQ_QUEUE, connection=self.tasks.connection)
        self.queue.empty()
        self.workers = Workers(
            [[venv.PYTHON, '-c', 'from bench.peers import tasks; tasks.work_rq()']] * THREADS,
            self.log, self.registered, self.env)

    def registered(self, pids):
        import rq
        workers = rq.Worker.all(connection=self.tasks.connection)
        return set(pids) <= {worker.pid for worker in workers}

    def enqueue(self, method, calls):
        for args in calls:
            self.queue.enqueue(self.tasks.run_in_odoo, method, [self.client.record_id], list(args))


SYSTEMS = {system.name: system for system in (Ours, OursProcesses, Oca, Celery, Rq)}
