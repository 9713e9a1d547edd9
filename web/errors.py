"""One place that turns errors into French pages (or JSON under /api/)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, IntegrityError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from coffre.errors import (
    AccessDenied,
    ConsentError,
    DocumentAlreadyUsed,
    DocumentNotFound,
    FoyerShredded,
    KeyMissing,
    MemberNotInFoyer,
)
from coffre.inspection.uploads import UploadRefused
from coffre.portability.prepared import ExportDamaged, ExportExpired
from coffre.vault import DocumentDamaged
from procedures.bpmn.engine import DiagramFault
from procedures.bpmn.expressions import ScriptBudgetExceeded
from procedures.errors import (
    DemandeNotFound,
    Incomplete,
    InvalidTransition,
    NotByHand,
    ProcedureClosed,
    TaskConflict,
)
from stockage import StorageError
from web.runtime import runtime

log = logging.getLogger(__name__)


def _messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood."),
        403: _("You are not allowed to see this page."),
        404: _("This page does not exist or is no longer available."),
        405: _("This action is not allowed here."),
        409: _("This action is not possible in the current state of the request."),
        410: _("Your family's safe has been deleted: its documents no longer exist."),
        413: _("The file is too large."),
        422: _("This file cannot be accepted."),
        429: _("Too many attempts. Please wait a few minutes and try again."),
        500: _("An unexpected error occurred. Our team has been notified."),
        503: _("The service is temporarily unavailable. Please try again in a few minutes."),
    }


def render_error(
    status: int, message: str | None = None, errors: Mapping[str, Any] | None = None
) -> tuple[Response | str, int]:
    """The French error page, or for API clients an RFC 9457 problem: `title` in English
    (the HTTP status's phrase), `detail` in French (what a person reads); never a trace."""
    text = message or _messages().get(status, _messages()[500])
    if request.path.startswith("/api/"):
        return problem(status, text, errors)
    return render_template("error.html", status=status, message=text), status


def problem(
    status: int, detail: str, errors: Mapping[str, Any] | None = None
) -> tuple[Response, int]:
    """An RFC 9457 problem document; `errors` names the fields refused, if any."""
    body: dict[str, Any] = {
        "type": "about:blank", "title": HTTP_STATUS_CODES.get(status, "Error"), "status": status,
        "detail": detail, "lang": "fr",
    }  # fmt: skip
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response, status


def _flat(messages: Mapping[str, Any]) -> dict[str, Any]:
    """webargs nests the refusals under their location ("json", "query"): one level suffices."""
    flat: dict[str, Any] = {}
    for location, fields in messages.items():
        if isinstance(fields, Mapping):
            flat.update(fields)
        else:
            flat[location] = fields
    return flat


def init_app(app: Flask) -> None:
    """Register the handlers; tracebacks go to the log, never to the page."""

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[Response | str, int]:
        if exc.code == 413:
            # Refused from its size alone, before it was read: say what the limit is.
            limit = runtime().settings.max_document_mb
            return render_error(
                413, _("The file exceeds the maximum size of %(size)s MB.", size=limit)
            )
        if exc.response is not None:  # already a full answer (the API's refused tokens)
            return exc.response, exc.code or exc.response.status_code  # type: ignore[return-value]
        data = getattr(exc, "data", None) or {}  # webargs' refusals carry the fields refused
        messages = data.get("messages")
        if exc.code == 422 and messages:
            return render_error(422, _("Some data sent is not valid."), _flat(messages))
        return render_error(exc.code or 500)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> tuple[Response | str, int]:
        return render_error(400, _("The form has expired. Please reload the page and retry."))

    @app.errorhandler(DBAPIError)
    def _database(exc: DBAPIError) -> tuple[Response | str, int]:
        log.error("database unavailable: %s", type(exc.orig).__name__)
        return render_error(503)

    @app.errorhandler(IntegrityError)
    def _conflict(exc: IntegrityError) -> tuple[Response | str, int]:
        # Two requests wrote the same thing at once: the database kept one, nothing is
        # half-written (the unit of work rolled back), and the database is not down.
        log.warning("write conflict: %s", type(exc.orig).__name__)
        return render_error(
            409, _("Someone changed this at the same moment. Please reload the page and retry.")
        )

    @app.errorhandler(StorageError)
    def _storage(exc: StorageError) -> tuple[Response | str, int]:
        log.error("object storage error: %s", type(exc).__name__)
        return render_error(503)

    _init_vault_errors(app)
    init_procedure_errors(app)


def _init_vault_errors(app: Flask) -> None:
    """The vault's domain errors; their own messages are for logs, never for pages."""

    @app.errorhandler(DocumentNotFound)
    def _not_found(exc: DocumentNotFound) -> tuple[Response | str, int]:
        return render_error(404)

    @app.errorhandler(AccessDenied)
    def _denied(exc: AccessDenied) -> tuple[Response | str, int]:
        return render_error(403)

    @app.errorhandler(ConsentError)
    def _consent(exc: ConsentError) -> tuple[Response | str, int]:
        return render_error(409)

    @app.errorhandler(DocumentAlreadyUsed)
    def _already_used(exc: DocumentAlreadyUsed) -> tuple[Response | str, int]:
        return render_error(
            409,
            _(
                "This document has already been shared with another request, and a document "
                "of this kind serves one request only. Add a new one to your safe."
            ),
        )

    @app.errorhandler(FoyerShredded)
    def _shredded(exc: FoyerShredded) -> tuple[Response | str, int]:
        return render_error(410)

    @app.errorhandler(ExportExpired)
    def _export_expired(exc: ExportExpired) -> tuple[Response | str, int]:
        return render_error(
            410,
            _(
                "This export of your safe is no longer available: it is kept 7 days. "
                "You can ask for a new one from your safe."
            ),
        )

    @app.errorhandler(ExportDamaged)
    def _export_damaged(exc: ExportDamaged) -> tuple[Response | str, int]:
        log.error("prepared export damaged: %s", exc)  # ids only
        return render_error(
            500,
            _("This export cannot be opened. The town has been told; you can ask for a new one."),
        )

    @app.errorhandler(MemberNotInFoyer)
    def _member(exc: MemberNotInFoyer) -> tuple[Response | str, int]:
        return render_error(422, _("This person is not a member of your household."))

    @app.errorhandler(UploadRefused)
    def _refused(exc: UploadRefused) -> tuple[Response | str, int]:
        return render_error(422, exc.message)  # French, written for parents, no personal data

    @app.errorhandler(DocumentDamaged)
    def _damaged(exc: DocumentDamaged) -> tuple[Response | str, int]:
        log.error("document %s is damaged", exc.document_id)
        return render_error(
            500,
            _(
                "This document is damaged and cannot be opened. The town has been told; "
                "you may deposit it again."
            ),
        )

    @app.errorhandler(KeyMissing)
    def _key_missing(exc: KeyMissing) -> tuple[Response | str, int]:
        log.error("data key unavailable: %s", exc)  # the vault's messages carry ids only
        return render_error(
            500,
            _("Your documents cannot be opened at the moment. The town has been told."),
        )


def init_procedure_errors(app: Flask) -> None:
    """The demande services' domain errors."""

    @app.errorhandler(DemandeNotFound)
    def _demande_not_found(exc: DemandeNotFound) -> tuple[Response | str, int]:
        return render_error(404)

    @app.errorhandler(NotByHand)
    def _not_by_hand(exc: NotByHand) -> tuple[Response | str, int]:
        return render_error(
            403,
            _("This step is carried out automatically (%(by)s): it cannot be completed by hand.",
              by=exc.completer),
        )  # fmt: skip

    @app.errorhandler(InvalidTransition)
    @app.errorhandler(ProcedureClosed)
    @app.errorhandler(TaskConflict)
    def _conflict(exc: Exception) -> tuple[Response | str, int]:
        return render_error(409)

    @app.errorhandler(Incomplete)
    def _incomplete(exc: Incomplete) -> tuple[Response | str, int]:
        return render_error(422, " ".join(exc.problems))

    @app.errorhandler(DiagramFault)
    def _diagram_fault(exc: DiagramFault) -> tuple[Response | str, int]:
        # The diagram is at fault for these answers: the step was rolled back, nothing saved.
        log.error("diagram fault at element %s", exc.element_id)  # never the data
        return render_error(
            500,
            _(
                "This step could not be carried out: the procedure stops at « %(element)s » "
                "(%(reason)s). Nothing was saved and the town has been told.",
                element=exc.element,
                reason=exc.reason,
            ),
        )

    @app.errorhandler(ScriptBudgetExceeded)
    def _over_budget(exc: ScriptBudgetExceeded) -> tuple[Response | str, int]:
        # The diagram is at fault, not the visitor: the step was rolled back, nothing saved.
        log.error("diagram over its run budget: %s", exc)  # names the element, never data
        return render_error(
            500,
            _(
                "This step could not be carried out: the procedure exceeds its computing "
                "limit. Nothing was saved and the town has been told."
            ),
        )


def over_budget_message(exc: ScriptBudgetExceeded) -> str:
    """For the designer's test run: which step of the draft to simplify."""
    return _(
        "The script of step « %(step)s » exceeds the allowed computing limit: simplify it "
        "(fewer operations, smaller values) or make sure it does not loop without end.",
        step=exc.task_name,
    )
