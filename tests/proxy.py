"""A reverse proxy in front of a prefork OdooServer, as a deployment has one.

Helper module, no tests in it::

    with OdooServer(db, '--workers=2') as server, LongpollingProxy(server) as proxy:
        browser.login(proxy, 'admin', 'admin')
"""
import http.client
import http.server
import threading


class LongpollingProxy:
    """What a prefork deployment puts in front of Odoo (nginx, say): one
    address on 127.0.0.1 that sends ``/longpolling/`` to the server's
    longpolling (gevent) port and everything else to its HTTP port. A
    prefork HTTP worker cannot answer ``/longpolling/poll`` itself ("bus.Bus
    unavailable"). Has ``url()``, so a Browser can open it like a server."""

    HOP_BY_HOP = {'connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer',
                  'upgrade', 'proxy-authorization', 'proxy-authenticate', 'content-length'}

    def __init__(self, server, timeout=120):
        self.server = server
        self.timeout = timeout  # above the 50 s of a long poll
        self.httpd = None
        self.thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def start(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                proxy._forward(self)
            do_POST = do_HEAD = do_GET

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                       name='longpolling-proxy')
        self.thread.start()
        return self

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(10)
            self.httpd = None

    @property
    def port(self):
        return self.httpd.server_address[1]

    def url(self, path='/'):
        return 'http://127.0.0.1:%d%s' % (self.port, path)

    def _forward(self, request):
        """One request to its upstream port; a refused connection is a 502,
        as nginx answers when the longpolling process is down."""
        longpolling = request.path.startswith('/longpolling/')
        port = self.server.longpolling_port if longpolling else self.server.port
        length = int(request.headers.get('Content-Length') or 0)
        body = request.rfile.read(length) if length else None
        headers = {key: value for key, value in request.headers.items()
                   if key.lower() not in self.HOP_BY_HOP}
        upstream = http.client.HTTPConnection('127.0.0.1', port, timeout=self.timeout)
        try:
            upstream.request(request.command, request.path, body=body, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
        except OSError as error:
            request.send_error(502, 'upstream port %d: %s' % (port, error))
            return
        finally:
            upstream.close()
        request.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in self.HOP_BY_HOP:
                request.send_header(key, value)
        request.send_header('Content-Length', str(len(payload)))
        request.end_headers()
        if request.command != 'HEAD':
            request.wfile.write(payload)
