"""One place that turns errors into French pages (or JSON under /api/)."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from stockage import StorageError

log = logging.getLogger(__name__)


def _messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood."),
        403: _("You are not allowed to see this page."),
        404: _("This page does not exist or is no longer available."),
        405: _("This action is not allowed here."),
        413: _("The file is too large."),
        429: _("Too many attempts. Please wait a few minutes and try again."),
        500: _("An unexpected error occurred. Our team has been notified."),
        503: _("The service is temporarily unavailable. Please try again in a few minutes."),
    }


def render_error(status: int, message: str | None = None) -> tuple[Response | str, int]:
    """The French error page, or a JSON body for API clients."""
    text = message or _messages().get(status, _messages()[500])
    if request.path.startswith("/api/"):
        return jsonify(error=text, status=status), status
    return render_template("error.html", status=status, message=text), status


def init_app(app: Flask) -> None:
    """Register the handlers; tracebacks go to the log, never to the page."""

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[Response | str, int]:
        return render_error(exc.code or 500)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> tuple[Response | str, int]:
        return render_error(400, _("The form has expired. Please reload the page and retry."))

    @app.errorhandler(DBAPIError)
    def _database(exc: DBAPIError) -> tuple[Response | str, int]:
        log.error("database unavailable: %s", type(exc.orig).__name__)
        return render_error(503)

    @app.errorhandler(StorageError)
    def _storage(exc: StorageError) -> tuple[Response | str, int]:
        log.error("object storage error: %s", type(exc).__name__)
        return render_error(503)
