"""``odoo queue-worker -c odoo.conf --health [--pid PID] [--max-age S]``:
exit 0 when, in every database the worker serves, a worker of this host
(and of process PID, or of one of its job processes) has a fresh heartbeat
row; else print why and exit 1.

For process supervisors (a systemd timer, a Kubernetes liveness probe):
it reads the rows the workers beat every 5 s, it does not talk to them.
"""
import argparse
import socket
import sys

import psycopg2


def split_args(args):
    """(health options, the rest for Odoo's config parser)."""
    parser = argparse.ArgumentParser(prog='odoo queue-worker --health', add_help=False)
    parser.add_argument('--health', action='store_true')
    parser.add_argument('--pid', type=int, help='only this worker process')
    parser.add_argument('--max-age', type=float,
                        help='seconds since the last heartbeat (default: dead_after)')
    return parser.parse_known_args(args)


def check(pid=None, max_age=None):
    """(healthy, lines saying why) for the databases this worker serves."""
    from ..engine import metrics
    from ..service import options, server
    max_age = options.settings().dead_after if max_age is None else max_age
    host = socket.gethostname()
    pids = None if pid is None else process_and_children(pid)
    databases = server.list_databases()
    if not databases:
        return False, ['no database to serve (databases, db_name, dbfilter)']
    lines, healthy = [], True
    for dbname in databases:
        try:
            connection = server.connect(dbname)
            try:
                with connection.cursor() as cr:
                    fresh = metrics.worker_is_fresh(cr, host, pids, max_age)
            finally:
                connection.close()
        except psycopg2.Error as error:
            fresh, why = False, 'database error: %s' % str(error).strip()
        else:
            why = 'heartbeat fresh' if fresh else \
                'no heartbeat of %s%s within %gs' % (host, ' pid %d' % pid if pid else '', max_age)
        healthy = healthy and fresh
        lines.append('%s: %s' % (dbname, why))
    return healthy, lines


def process_and_children(pid):
    """``pid`` and its children's: a queue-worker with job processes
    (--processes N) beats through them."""
    import psutil
    try:
        return [pid] + [child.pid for child in psutil.Process(pid).children()]
    except psutil.Error:
        return [pid]


def main(args):
    """Run the check; the process exit status says the answer."""
    import odoo
    options, rest = split_args(args)
    odoo.tools.config.parse_config(rest)
    healthy, lines = check(options.pid, options.max_age)
    for line in lines:
        print(line)
    sys.exit(0 if healthy else 1)
