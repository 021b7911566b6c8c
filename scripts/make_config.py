"""Write odoo.conf from the standard PostgreSQL variables, creating Odoo's
login role when it can.

PGHOST / PGPORT (default 127.0.0.1:5432), PGUSER / PGPASSWORD (default: a
dedicated role ``background_job``, created through the ``postgres``
superuser when the server lets us). Odoo refuses to run as ``postgres``.
"""
import importlib.util
import os
import secrets
import sys

import psycopg2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, '.venv')
CONFIG_PATH = os.path.join(ROOT, 'odoo.conf')
DEFAULT_ROLE = 'background_job'
RUN_DATABASE = 'background_job'


def load_defaults():
    """engine/defaults.py, read without importing the addon (and Odoo)."""
    spec = importlib.util.spec_from_file_location(
        'background_job_defaults', os.path.join(ROOT, 'engine', 'defaults.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The [background_job] options in odoo.conf, with their comments; each is
# written at its default (engine/defaults.py), and parsed by service/options.py.
JOB_OPTIONS = (
    ('threads', 'Worker threads per database in each job process (or in this server\n'
                'process); 0 disables jobs on this server.'),
    ('processes', 'Job processes of this server, each with `threads` threads: N cores for\n'
                  'CPU-bound jobs, and a crash or a job over limit_memory_soft/hard ([options])\n'
                  'takes down only its own process, which is replaced. 0: the threaded server\n'
                  'runs its job threads in its own process (no such isolation), the prefork\n'
                  'server one job process. `odoo queue-worker --processes N` overrides it.'),
    ('databases', 'Databases to serve (comma separated); empty: db_name, else every database\n'
                  'matching dbfilter where the addon is installed, checked every\n'
                  'database_refresh seconds (a new database is picked up without restart).'),
    ('database_refresh', None),
    ('channels', 'Capacity of channels that have no row yet (name:capacity,...; 0: no\n'
                 'limit); after that, the channel\'s row (Job Queue > Channels) wins.'),
    ('dead_after', 'A started job whose worker has not beaten for this many seconds is requeued.'),
    ('network_timeout', 'Seconds after which a connection to a silent peer (a worker machine lost,\n'
                        'a network cut) is dropped on both ends (TCP keepalives, tcp_user_timeout;\n'
                        'PostgreSQL >= 12), so that the lost worker\'s jobs are released; keep it\n'
                        'below dead_after. 0: the system\'s TCP defaults (hours).'),
    ('timeout', 'Default time limit of a job, wall clock, in seconds (0: none);\n'
                '@job(timeout=) and with_delay(timeout=) win.'),
    ('shutdown_timeout', 'On SIGTERM/SIGINT, running jobs get this many seconds to finish;\n'
                         'then they are ended and requeued (no retry counted).'),
    ('idle_close', 'A job thread without work for this many seconds closes its connections\n'
                   '(an idle database then costs one connection per process).'),
    ('keep_days', 'Done and cancelled jobs older than this many days are removed by a cron,\n'
                  'and so are the rows of workers gone that long that no job refers to.'),
    ('run_now', 'Run delayed calls at once, in the caller\'s transaction (scripts, tests).'),
    ('metrics_token', 'GET /background_job/metrics (Prometheus) answers a scraper sending\n'
                      '"Authorization: Bearer <this token>"; empty: the route answers 404.'),
)


def job_section(defaults):
    """The [background_job] section of odoo.conf, every option at its default."""
    values = dict(
        threads=defaults.THREADS, processes=defaults.PROCESSES, databases=','.join(defaults.DATABASES),
        database_refresh=defaults.DATABASE_REFRESH, dead_after=defaults.DEAD_AFTER,
        network_timeout=defaults.NETWORK_TIMEOUT,
        channels=','.join('%s:%s' % item for item in defaults.CHANNELS.items()),
        timeout=defaults.TIMEOUT, shutdown_timeout=defaults.SHUTDOWN_TIMEOUT,
        idle_close=defaults.IDLE_CLOSE,
        keep_days=defaults.KEEP_DAYS, run_now=defaults.RUN_NOW,
        metrics_token=defaults.METRICS_TOKEN)
    lines = ['[background_job]']
    for name, comment in JOB_OPTIONS:
        lines += ['# ' + line for line in (comment or '').splitlines()]
        lines.append(('%s = %s' % (name, values[name])).rstrip())
    return '\n'.join(lines) + '\n'


def fail(message):
    print('\nsetup stopped: ' + message, file=sys.stderr)
    sys.exit(1)


def connect(host, port, user, password, dbname='postgres'):
    return psycopg2.connect(host=host, port=port, user=user, password=password,
                            dbname=dbname, connect_timeout=5)


def server_answers(host, port):
    try:
        connect(host, port, 'postgres', None).close()
    except psycopg2.OperationalError as error:
        text = str(error)
        return 'could not connect' not in text and 'timeout' not in text \
            and 'Connection refused' not in text
    return True


def ensure_default_role(host, port):
    """Return (user, password) of the dedicated role, creating it if needed."""
    password = DEFAULT_ROLE
    try:
        connect(host, port, DEFAULT_ROLE, password).close()
        return DEFAULT_ROLE, password
    except psycopg2.OperationalError:
        pass
    try:
        admin = connect(host, port, os.environ.get('PGSUPERUSER', 'postgres'),
                        os.environ.get('PGSUPERPASSWORD'))
    except psycopg2.OperationalError as error:
        fail("no role '%s' and no superuser access to create it (%s).\n"
             "Ask your DBA to run:\n  CREATE ROLE %s LOGIN CREATEDB PASSWORD '%s';\n"
             "or set PGUSER/PGPASSWORD to a role with CREATEDB, then run make setup again."
             % (DEFAULT_ROLE, str(error).strip(), DEFAULT_ROLE, password))
    admin.autocommit = True
    with admin.cursor() as cr:
        cr.execute('SELECT 1 FROM pg_roles WHERE rolname = %s', (DEFAULT_ROLE,))
        verb = 'ALTER' if cr.fetchone() else 'CREATE'
        cr.execute('%s ROLE %s LOGIN CREATEDB PASSWORD %%s' % (verb, DEFAULT_ROLE), (password,))
    admin.close()
    print("created PostgreSQL role '%s'" % DEFAULT_ROLE)
    return DEFAULT_ROLE, password


def main():
    host = os.environ.get('PGHOST') or '127.0.0.1'
    port = int(os.environ.get('PGPORT') or 5432)
    user, password = os.environ.get('PGUSER'), os.environ.get('PGPASSWORD')
    if not server_answers(host, port):
        fail('PostgreSQL does not answer on %s:%s.\n'
             'Start it (Debian: apt-get install postgresql, then\n'
             '  pg_ctlcluster 15 main start), or point PGHOST/PGPORT at a running\n'
             'server, then run make setup again.' % (host, port))
    if user == 'postgres':
        fail("Odoo refuses to connect as 'postgres': unset PGUSER to let setup "
             "create the role '%s', or set PGUSER to another role." % DEFAULT_ROLE)
    if user:
        try:
            connect(host, port, user, password).close()
        except psycopg2.OperationalError as error:
            fail('cannot log in as %s on %s:%s: %s' % (user, host, port, error))
    else:
        user, password = ensure_default_role(host, port)

    import odoo.addons
    odoo_addons = os.path.dirname(odoo.addons.__file__)
    with open(CONFIG_PATH, 'w') as config:
        config.write(CONFIG_TEMPLATE.format(
            addons_path=','.join([odoo_addons, os.path.join(VENV, 'addons'),
                                  os.path.join(ROOT, 'tests', 'addons')]),
            data_dir=os.path.join(VENV, 'data'), host=host, port=port, user=user,
            password=password or '', admin_passwd=secrets.token_urlsafe(16),
            run_database=RUN_DATABASE, background_job=job_section(load_defaults())))
    print('wrote %s (database role %s on %s:%s)' % (CONFIG_PATH, user, host, port))


CONFIG_TEMPLATE = """\
# Generated by make setup (scripts/make_config.py); edit freely, it is
# rewritten only when make setup runs again.
[options]
addons_path = {addons_path}
# background_job must be loaded server-wide to start its workers.
server_wide_modules = base,web,background_job
data_dir = {data_dir}
db_host = {host}
db_port = {port}
db_user = {user}
db_password = {password}
admin_passwd = {admin_passwd}
db_name = {run_database}
dbfilter = ^{run_database}$
list_db = False
http_interface = 127.0.0.1
http_port = 8069
longpolling_port = 8072

{background_job}"""

if __name__ == '__main__':
    main()
