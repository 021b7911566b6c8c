"""A JSON-RPC client of a running OdooServer, as the web client talks to it.

Helper module, no tests in it::

    session = JsonRpcSession(server, 'user', 'password')
    session.call_kw('queue.job', 'search_read', [[]], {'fields': ['state']})
    error = session.call_kw_error('queue.job', 'create', [{...}])
"""
import http.cookiejar
import itertools
import json
import urllib.request


class RpcError(Exception):
    """The server answered with an error; ``name`` is its exception class
    (e.g. ``odoo.exceptions.AccessError``)."""

    def __init__(self, error):
        data = error.get('data') or {}
        self.name = data.get('name', '')
        self.message = data.get('message') or error.get('message', '')
        super().__init__('%s: %s' % (self.name, self.message))


class JsonRpcSession:
    """Logs in through /web/session/authenticate and keeps the session cookie."""

    _ids = itertools.count(1)

    def __init__(self, server, login, password, timeout=60):
        self.server = server
        self.timeout = timeout
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        result = self.post('/web/session/authenticate',
                           {'db': server.db, 'login': login, 'password': password})
        if not result.get('uid'):
            raise AssertionError('login as %s failed: %r' % (login, result))
        self.uid = result['uid']

    def post(self, path, params):
        """POST a JSON-RPC call; its result, or RpcError."""
        body = json.dumps({'jsonrpc': '2.0', 'method': 'call', 'id': next(self._ids),
                           'params': params}).encode()
        request = urllib.request.Request(self.server.url(path), data=body,
                                         headers={'Content-Type': 'application/json'})
        with self.opener.open(request, timeout=self.timeout) as response:
            answer = json.loads(response.read().decode())
        if 'error' in answer:
            raise RpcError(answer['error'])
        return answer['result']

    def call_kw(self, model, method, args, kwargs=None):
        return self.post('/web/dataset/call_kw/%s/%s' % (model, method), {
            'model': model, 'method': method, 'args': args, 'kwargs': kwargs or {}})

    def call_kw_error(self, model, method, args, kwargs=None):
        """The RpcError the call raises; AssertionError if it succeeds."""
        try:
            result = self.call_kw(model, method, args, kwargs)
        except RpcError as error:
            return error
        raise AssertionError('%s.%s(%r, %r) was accepted (returned %r)'
                             % (model, method, args, kwargs, result))
