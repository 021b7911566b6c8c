"""``odoo queue-worker -c odoo.conf [--processes N]``: run job workers
only, no HTTP.

``--processes N`` overrides ``[background_job] processes``: with N >= 1 this
process supervises N job processes (service/job_processes.py), else it runs
the job threads itself. Odoo finds this command because the addon has a
``cli`` folder; give the addons path first so it can:
``odoo --addons-path=... queue-worker -c ...``.
"""
import argparse
import logging
import os
import sys

import odoo
from odoo.cli.command import Command, commands

_logger = logging.getLogger(__name__)


class QueueWorker(Command):
    """Run background_job workers for the configured databases"""

    def run(self, args):
        if '--health' in args:  # a check of a running worker, not a worker
            from . import health
            health.main(args)
        processes, args = split_args(args)
        odoo.tools.config.parse_config(args)
        from ..service import job_processes, options, server
        odoo.service.server.load_server_wide_modules()
        if processes is None:
            processes = options.settings().processes
        _logger.info('queue-worker starting (pid %s)', os.getpid())
        if processes > 0:
            job_processes.run_supervisor(processes)
            return
        if server.run_workers_until_signal():  # job threads stuck: start afresh
            _logger.info('queue-worker restarts itself (pid %s)', os.getpid())
            os.execv(sys.executable, [sys.executable] + sys.argv)


def split_args(args):
    """(``--processes`` or None, the rest for Odoo's config parser)."""
    parser = argparse.ArgumentParser(prog='odoo queue-worker', add_help=False)
    parser.add_argument('--processes', type=_whole, default=None)
    known, rest = parser.parse_known_args(args)
    return known.processes, rest


def _whole(text):
    number = int(text)
    if number < 0:
        raise argparse.ArgumentTypeError('--processes must be a whole number >= 0')
    return number


# Odoo names commands after the class; the documented name has a dash.
commands['queue-worker'] = commands.pop('queueworker')
