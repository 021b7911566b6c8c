from odoo.http import request

from odoo.addons.bus.controllers.main import BusController

from ..models.queue_job import FAILED_CHANNEL


class FailedJobBusController(BusController):

    def _poll(self, dbname, channels, last, options):
        """The logged-in user listens to their own failure channel; it is
        added here, server-side, because a client could ask for anyone's."""
        if request.session.uid:
            channels = list(channels) + [(request.db, FAILED_CHANNEL, request.session.uid)]
        return super()._poll(dbname, channels, last, options)
