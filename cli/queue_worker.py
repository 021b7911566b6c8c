"""``odoo queue-worker -c odoo.conf``: run job workers only, no HTTP.

Odoo finds this command because the addon has a ``cli`` folder; give the
addons path first so it can: ``odoo --addons-path=... queue-worker -c ...``.
"""
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
        odoo.tools.config.parse_config(args)
        from ..service import server
        odoo.service.server.load_server_wide_modules()
        _logger.info('queue-worker starting (pid %s)', os.getpid())
        if server.run_workers_until_signal():  # job threads stuck: start afresh
            _logger.info('queue-worker restarts itself (pid %s)', os.getpid())
            os.execv(sys.executable, [sys.executable] + sys.argv)


# Odoo names commands after the class; the documented name has a dash.
commands['queue-worker'] = commands.pop('queueworker')
