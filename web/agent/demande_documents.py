"""Agent pages: one granted document of a demande, viewed inline, marked valid or not valid.

The file itself is read through the vault's one access check, for this demande and this
agent's services; each view is logged for the family's "who read my documents".
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from coffre.clock import local_today
from coffre.review import RefusalReason
from coffre.upkeep import authenticity
from procedures import agent_actions, agent_views
from procedures.agent_actions import DemandeAsShown
from procedures.errors import Incomplete
from web.agent.blueprint import agent_actor, bp
from web.agent.demande import Page, acted, posted_version, status_labels
from web.auth.guard import role_required
from web.files import FILE_POLICIES, PREVIEWS, attachment_headers, checked_chunks
from web.runtime import db, runtime


def refusal_labels() -> dict[RefusalReason, str]:
    return {
        RefusalReason.ILLISIBLE: _("Unreadable"),
        RefusalReason.PERIME: _("Out of date"),
        RefusalReason.INCOMPLET: _("Incomplete"),
        RefusalReason.NE_CORRESPOND_PAS: _("Does not match the request"),
    }


def render_document(
    demande_id: int,
    document_id: int,
    status: int = 200,
    alert: str | None = None,
    problems: list[str] | None = None,
) -> Page:
    """A granted document's page: its inline preview and the verdict forms."""
    agent = agent_actor()
    demande = agent_views.agent_demande(db(), agent, demande_id)
    line = agent_views.granted_document(db(), agent, demande_id, document_id)
    page = render_template(
        "agent/demande_document.html",
        demande=demande,
        line=line,
        reasons=refusal_labels(),
        statuses=status_labels(),
        preview=PREVIEWS.get(line.document.mime_type),
        two_d_doc=authenticity.shown(line.document),
        alert=alert,
        problems=problems or [],
    )
    return page, status


@bp.get("/demandes/<int:demande_id>/documents/<int:document_id>")
@role_required(Role.AGENT)
def demande_document(demande_id: int, document_id: int) -> Page:
    return render_document(demande_id, document_id)


@bp.get("/demandes/<int:demande_id>/documents/<int:document_id>/contenu")
@role_required(Role.AGENT)
def demande_document_contenu(demande_id: int, document_id: int) -> Response:
    opened = agent_actions.read_document(
        db(), runtime().vault, agent_actor(), demande_id, document_id
    )
    document = opened.document
    headers = attachment_headers(document.original_name, "inline")
    # Framed by our own document page only (the app's pages forbid any framing).
    headers["Content-Security-Policy"] = FILE_POLICIES["inline"]
    headers["X-Frame-Options"] = "SAMEORIGIN"
    headers["Content-Length"] = str(document.size)
    return Response(checked_chunks(opened), mimetype=document.mime_type, headers=headers)


def _verdict(
    demande_id: int, document_id: int, done: str, act: Callable[[], object]
) -> Page | BaseResponse:
    return acted(
        done,
        act,
        lambda **kw: render_document(demande_id, document_id, **kw),
        url_for("agent.demande", demande_id=demande_id),
    )


@bp.post("/demandes/<int:demande_id>/documents/<int:document_id>/valider")
@role_required(Role.AGENT)
def demande_document_valider(demande_id: int, document_id: int) -> Page | BaseResponse:
    shown = DemandeAsShown(demande_id, posted_version())
    form = request.form

    def validate() -> object:
        fact = agent_actions.quotient_fact(
            form.get("quotient", ""),
            form.get("tranche", ""),
            form.get("valide_jusqu_au", ""),
            local_today(runtime().clock),
        )
        return agent_actions.validate_document(
            db(), runtime().engine_context, agent_actor(), shown, document_id, fact
        )

    return _verdict(demande_id, document_id, _("The document is marked valid."), validate)


@bp.post("/demandes/<int:demande_id>/documents/<int:document_id>/refuser")
@role_required(Role.AGENT)
def demande_document_refuser(demande_id: int, document_id: int) -> Page | BaseResponse:
    shown = DemandeAsShown(demande_id, posted_version())
    raw_reason, note = request.form.get("motif", ""), request.form.get("commentaire", "")

    def refuse() -> object:
        if raw_reason not in {reason.value for reason in RefusalReason}:
            raise Incomplete([_("Choose the reason why the document is not valid.")])
        return agent_actions.refuse_document(
            db(),
            runtime().engine_context,
            agent_actor(),
            shown,
            document_id,
            RefusalReason(raw_reason),
            note,
        )

    return _verdict(demande_id, document_id, _("The document is marked not valid."), refuse)
