"""Pages anyone may see: the home page, the information about the family space, health."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, jsonify, render_template
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from accounts import information
from accounts.information import InformationVersion
from stockage import StorageError
from web.antivirus import scanner_status
from web.extensions import limiter
from web.runtime import db, runtime

bp = Blueprint("public", __name__)
log = logging.getLogger(__name__)


@bp.get("/")
def home() -> str:
    return render_template("public/home.html")


@bp.get("/coffre/information")
def information_page() -> str:
    """The information in force about the family space (R.55-1), readable by anyone."""
    return _information(information.current(db()))


@bp.get("/coffre/information/version-<identifier>")
def information_version(identifier: str) -> str:
    """A published version of the information, in force or not, at its own address."""
    version = information.find(db(), identifier)
    if version is None:
        abort(404)
    return _information(version)


def _information(version: InformationVersion) -> str:
    return render_template(
        "public/information.html",
        version=version,
        in_force=information.current(db()),
        versions=list(reversed(information.versions(db()))),
    )


@bp.get("/healthz")
@limiter.exempt
def healthz() -> tuple[Response, int]:
    """200 when the database and the object store answer, 503 otherwise (no details leaked).

    The antivirus is reported ("ok", "unavailable", "not_configured") but never makes the
    portal unhealthy: without it deposits still work, they wait or are not scanned.
    """
    checks = {"database": _database_status(), "storage": _storage_status()}
    healthy = all(state == "ok" for state in checks.values())
    body = jsonify(
        status="ok" if healthy else "unavailable", checks=checks, antivirus=scanner_status()
    )
    return body, 200 if healthy else 503


def _database_status() -> str:
    try:
        db().execute(text("SELECT 1"))
    except DBAPIError as exc:
        log.warning("health: database unavailable (%s)", type(exc.orig).__name__)
        return "unavailable"
    return "ok"


def _storage_status() -> str:
    try:
        runtime().store.exists("healthz/probe")
    except StorageError as exc:
        log.warning("health: object storage unavailable (%s)", type(exc).__name__)
        return "unavailable"
    return "ok"
