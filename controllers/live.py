"""The live backend's poll (static/src/js/live_backend.js): once a second,
an open job queue view asks whether jobs or workers changed."""
from odoo import http
from odoo.http import request

from ..engine import store


class LiveBackend(http.Controller):

    @http.route('/background_job/changes', type='json', auth='user')
    def changes(self, failed_since=None):
        """The change markers ``{'jobs': n, 'workers': m}`` (engine/store/
        changes.py: two sequence reads, whatever the table's size) and
        ``failed``: the failed jobs the user sees, as on the menu's badge,
        counted only when the jobs changed since the marker ``failed_since``
        (else None)."""
        markers = store.change_markers(request.env.cr)
        markers['failed'] = None
        if markers['jobs'] != failed_since:
            markers['failed'] = request.env['ir.ui.menu']._background_job_failed_count()
        return markers
