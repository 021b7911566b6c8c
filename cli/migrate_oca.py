"""``odoo background-job-migrate-oca -c odoo.conf -d DB [--done keep|drop]
[--channels root:4,root.sub:2]``: carry an OCA queue_job 11.0
installation's jobs and channels over to this addon.

Both addons own the model ``queue.job`` on the table ``queue_job``, so
the order is fixed (README: Migrating from OCA queue_job):

1. checks, before anything changes: OCA's addon installed, this one not,
   no other session on the database, no installed module that still
   depends on ``queue_job``;
2. one transaction: OCA's jobs and channels (with the capacities of OCA's
   ``channels`` option) copied to backup tables;
3. OCA's addon uninstalled (Odoo drops its tables; what is left of them
   when its code is gone is dropped after);
4. this addon installed;
5. one transaction: the jobs written as this addon's rows, the channels
   with their capacities, and the migration marked done.

The step reached is kept in the system parameter
``background_job.oca_migration``: a run that stopped goes on where it
stopped, and a run after the end refuses. The backup tables stay until
the admin drops them.
"""
import argparse
import datetime
import os
import sys

import odoo
from odoo import SUPERUSER_ID, api
from odoo.cli.command import Command, commands
from odoo.tools import config

from ..engine import oca_migration
from ..engine.job_method import find_job_method
from ..engine.store import oca as store

INSTALLED = ('installed', 'to upgrade', 'to remove')
SET_ASIDE = 'set aside'


class Refused(Exception):
    """Raised when the migration cannot start or go on; nothing changed."""


def split_args(args):
    """(the command's options, the rest for Odoo's config parser)."""
    parser = argparse.ArgumentParser(prog='odoo background-job-migrate-oca', add_help=False)
    parser.add_argument('--done', choices=('keep', 'drop'), default='keep',
                        help="done OCA jobs: kept as history (default) or dropped")
    parser.add_argument('--channels', help="OCA's channels option (default, as OCA "
                        "reads it: ODOO_QUEUE_JOB_CHANNELS, else [queue_job] channels "
                        "of the config file, else root:1)")
    return parser.parse_known_args(args)


def oca_channels_option(given):
    """The channels option OCA's job runner ran with (its own lookup order)."""
    return (given or os.environ.get('ODOO_QUEUE_JOB_CHANNELS')
            or config.misc.get('queue_job', {}).get('channels'))


class BackgroundJobMigrateOca(Command):
    """Carry the jobs and channels of OCA queue_job over to background_job"""

    def run(self, args):
        options, rest = split_args(args)
        config.parse_config(rest)
        dbname = (config['db_name'] or '').split(',')[0].strip()
        if not dbname:
            sys.exit('background-job-migrate-oca: give the database with -d DB')
        try:
            with api.Environment.manage():
                Migration(dbname, options.done == 'keep',
                          oca_channels_option(options.channels)).run()
        except (Refused, ValueError) as error:
            sys.exit('background-job-migrate-oca: %s' % error)


# Odoo names commands after the class; the documented name has dashes.
commands['background-job-migrate-oca'] = commands.pop('backgroundjobmigrateoca')


class Migration:
    """The steps on one database, each skipped when a run before did it."""

    def __init__(self, dbname, keep_done, channels_option):
        self.dbname = dbname
        self.keep_done = keep_done
        self.channels_option = channels_option

    def run(self):
        from ..service.server import connect
        self.connection = connect(self.dbname)
        try:
            with self.connection, self.connection.cursor() as cr:
                # the engine's connections skip the disk flush; this one must not
                cr.execute('SET synchronous_commit = on')
            self.check()
            if self.state('queue_job') in INSTALLED:
                self.check_dependents()
                if self.oca_jobs_table_present():  # else set aside by a run before
                    self.set_aside()
            self.uninstall_oca()
            self.install()
            self.insert()
        finally:
            self.connection.close()

    # -- the steps ---------------------------------------------------------------
    def check(self):
        """Refuse unless the migration can start or go on."""
        with self.connection, self.connection.cursor() as cr:
            mark = store.read_mark(cr)
            if mark and mark != SET_ASIDE:
                raise Refused('%s: the jobs of OCA queue_job were migrated already (%s); '
                              'nothing to do' % (self.dbname, mark))
            if store.other_sessions(cr):
                raise Refused('%s: other sessions are connected to the database; stop its '
                              'Odoo servers and job runners first' % self.dbname)
            if mark is None:
                if store.module_state(cr, 'queue_job') not in INSTALLED:
                    raise Refused('%s: OCA queue_job is not installed' % self.dbname)
                if store.module_state(cr, 'background_job') in INSTALLED:
                    raise Refused('%s: background_job is installed already; migrate from '
                                  'OCA queue_job before installing it' % self.dbname)

    def check_dependents(self):
        """Refuse while an installed module still depends on queue_job: its
        uninstall would uninstall that module too (after the manifests on
        disk were read again, so that ported modules count as ported)."""
        with self.environment() as env:
            env['ir.module.module'].update_list()
            oca = env['ir.module.module'].search([('name', '=', 'queue_job')])
            dependents = oca.downstream_dependencies().filtered(
                lambda module: module.state in INSTALLED)
            if dependents:
                env.cr.commit()  # the refreshed module list
                raise Refused('these installed modules still depend on queue_job: %s; port '
                              'them first (README: Migrating from OCA queue_job)'
                              % ', '.join(sorted(dependents.mapped('name'))))

    def set_aside(self):
        capacities, ignored = oca_migration.parse_channels(self.channels_option)
        with self.connection, self.connection.cursor() as cr:
            counts = store.set_aside(cr, capacities)
            store.write_mark(cr, SET_ASIDE)
        self.say('OCA jobs set aside in %s: %s' % (store.JOBS_BACKUP, _counts(counts)))
        if ignored:
            self.say('OCA channel options without an equivalent, ignored: %s'
                     % ', '.join(ignored))

    def uninstall_oca(self):
        state = self.state('queue_job')
        if state in ('installed', 'to upgrade'):
            with self.environment() as env:
                env['ir.module.module'].search([('name', '=', 'queue_job')]) \
                    .button_immediate_uninstall()
        elif state == 'to remove':  # an uninstall that stopped half way
            odoo.modules.registry.Registry.new(self.dbname, update_module=True)
        with self.connection, self.connection.cursor() as cr:
            if store.module_state(cr, 'queue_job') in INSTALLED:
                raise Refused('%s: OCA queue_job could not be uninstalled' % self.dbname)
            dropped = store.drop_oca_tables(cr)
        if dropped:
            self.say('dropped what was left of OCA tables: %s' % ', '.join(dropped))
        self.say('OCA queue_job uninstalled')

    def install(self):
        if self.state('background_job') in INSTALLED:
            return
        with self.environment() as env:
            env['ir.module.module'].update_list()
            env['ir.module.module'].search([('name', '=', 'background_job')]) \
                .button_immediate_install()
        self.say('background_job installed')

    def insert(self):
        """One transaction: the jobs, the channels, the mark."""
        now = datetime.datetime.utcnow().replace(microsecond=0)
        with self.connection:
            with self.connection.cursor() as cr:
                if store.migrated_uuids_present(cr):
                    raise Refused('%s: jobs of %s are in queue_job already; nothing written'
                                  % (self.dbname, store.JOBS_BACKUP))
                expected = store.backup_counts(cr)
                with self.connection.cursor() as read:
                    open_rows = list(store.jobs(read, oca_migration.OPEN_STATES))
                kept = oca_migration.keep_identity_keys(open_rows)
                written = store.insert_jobs(cr, self.open_jobs(open_rows, kept, now))
                ended = ['failed'] + (['done'] if self.keep_done else [])
                with self.connection.cursor('background_job_oca_read') as read:
                    written += store.insert_jobs(cr, map(oca_migration.convert_job,
                                                         store.jobs(read, ended)))
                wanted = sum(count for state, count in expected.items()
                             if state in oca_migration.OPEN_STATES or state in ended)
                if written != wanted:  # never a job lost on the way
                    raise RuntimeError('wrote %d jobs of %d; nothing written' % (written, wanted))
                capacities = store.migrate_channels(cr)
                summary = 'done %s: %s%s' % (now.isoformat(' '), _counts(expected),
                                             '' if self.keep_done else ' (done dropped)')
                store.write_mark(cr, summary)
        self.say('%d jobs migrated (%s); %d lost their identity key to another job'
                 % (written, _counts(expected), len(kept)))
        self.say('channels: %s' % ', '.join('%s:%d' % item for item in sorted(capacities.items())))
        self.warn_unknown_methods(open_rows)

    @staticmethod
    def open_jobs(rows, kept, now):
        for row in rows:
            values = oca_migration.convert_job(row)
            if row['uuid'] in kept:
                values = oca_migration.superseded(values, kept[row['uuid']], now)
            yield values

    def warn_unknown_methods(self, open_rows):
        """Name the methods of open jobs that are no @job of this addon:
        such jobs fail when they run, until their module is ported."""
        registry = odoo.registry(self.dbname)
        unknown = set()
        for row in open_rows:
            model = registry.get(row['model_name'])
            try:
                if model is None:
                    raise LookupError(row['model_name'])
                find_job_method(model, row['method_name'])
            except LookupError:
                unknown.add('%s.%s' % (row['model_name'], row['method_name']))
        if unknown:
            self.say('WARNING: no @job method of background_job for: %s (port their modules, '
                     'then requeue those jobs)' % ', '.join(sorted(unknown)))

    # -- helpers -----------------------------------------------------------------
    def state(self, module):
        with self.connection, self.connection.cursor() as cr:
            return store.module_state(cr, module)

    def oca_jobs_table_present(self):
        with self.connection, self.connection.cursor() as cr:
            return 'queue_job' in store.oca_tables(cr)

    def environment(self):
        return _Environment(self.dbname)

    def say(self, line):
        print('%s: %s' % (self.dbname, line), flush=True)


class _Environment:
    """A superuser environment of the database's current registry, whose
    transaction commits at the end of the ``with`` block."""

    def __init__(self, dbname):
        self.cursor = odoo.registry(dbname).cursor()

    def __enter__(self):
        return api.Environment(self.cursor, SUPERUSER_ID, {})

    def __exit__(self, *exc_info):
        if exc_info[0] is None:
            self.cursor.commit()
        self.cursor.close()


def _counts(counts):
    order = [state for state in oca_migration.STATES if state in counts]
    return ', '.join('%d %s' % (counts[state], state) for state in order) or 'no jobs'
