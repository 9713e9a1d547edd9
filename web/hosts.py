"""Requests naming a host the portal does not serve are refused before the app sees them.

Flask's TRUSTED_HOSTS (the same list: BASE_URL's host and TRUSTED_HOSTS) makes `request.host`
refuse such a Host, but only once the request's hooks have run, and the error page could not
build its links then (Flask has no URL adapter for a refused host). This guard answers first,
with a short plain page; nothing of the request reaches a view, the session or the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Flask, Response
from flask_babel import gettext as _
from werkzeug.exceptions import SecurityError
from werkzeug.wsgi import get_host

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class ServedHostsOnly:
    """WSGI middleware: 400 for a Host header outside the app's TRUSTED_HOSTS."""

    def __init__(self, app: Flask, wsgi_app: WSGIApplication) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.hosts: list[str] = list(app.config["TRUSTED_HOSTS"])

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            get_host(environ, self.hosts)
        except SecurityError:
            return self._refused(environ, start_response)
        return self.wsgi_app(environ, start_response)

    def _refused(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        with self.app.request_context(environ):  # for the translation only: no hook runs
            text = _("This portal does not answer at this address.")
        response = Response(text, 400, mimetype="text/plain")
        return response(environ, start_response)
