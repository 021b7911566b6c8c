"""``GET /background_job/metrics``: the queue of the request's database in
Prometheus text format, for a scraper holding ``[background_job]
metrics_token`` (``Authorization: Bearer <token>``)."""
import hmac

import psycopg2

import odoo
from odoo import http
from odoo.http import request

from ..engine import metrics
from ..service.options import settings


def _answer(status, text, content_type='text/plain; charset=utf-8'):
    return http.Response(text, status=status, headers=[('Content-Type', content_type)])


def _token_matches(expected):
    """Constant-time comparison: the answer's timing says nothing of the token."""
    scheme, _, given = request.httprequest.headers.get('Authorization', '').partition(' ')
    return scheme.lower() == 'bearer' and hmac.compare_digest(
        given.strip().encode('utf-8'), expected.encode('utf-8'))


def _database():
    """``?db=`` when the dbfilter allows it, else the request's database
    (the session's, or the dbfilter's only one); None when there is none."""
    wanted = request.httprequest.args.get('db')
    if wanted:
        return wanted if http.db_filter([wanted]) == [wanted] else None
    return request.db


class MetricsController(http.Controller):

    # auth='none': a scraper has no Odoo session; the token guards the route.
    # The addon is server-wide, so the route also answers without a database
    # selected (several databases, ?db= picks one).
    @http.route('/background_job/metrics', type='http', auth='none', methods=['GET'])
    def metrics(self, **kwargs):
        # A scraper keeps no cookie: Odoo would store a new session file at
        # every scrape (one every 15 s, for ever).
        if request.session.new:
            request.session.modified = False
        token = settings().metrics_token
        if not token:
            return _answer(404, 'metrics are off: no [background_job] metrics_token\n')
        if not _token_matches(token):
            return _answer(403, 'wrong or missing bearer token\n')
        dbname = _database()
        if not dbname:
            return _answer(404, 'no database selected (?db=)\n')
        # A cursor of its own: in the no-database dispatch (?db=) the request
        # has none. Read only; closing it rolls the read back.
        try:
            cr = odoo.sql_db.db_connect(dbname).cursor()
        except psycopg2.OperationalError:  # ?db= names no database
            return _answer(404, 'no database %s\n' % dbname)
        try:
            if not metrics.has_queue(cr):
                return _answer(404, 'background_job is not installed in %s\n' % dbname)
            samples = metrics.collect(cr, settings().dead_after)
        finally:
            cr.close()
        return _answer(200, metrics.render(samples), metrics.CONTENT_TYPE)
