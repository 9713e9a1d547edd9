"""The agents' messages: the threads of their services, a thread and its reply, and the
documents a family shared in it, opened through the vault's one access check."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from coffre.errors import AccessDenied
from messagerie import reading, threads
from messagerie.errors import MessageRefused, ThreadNotFound
from web.agent.blueprint import agent_actor
from web.auth.guard import role_required
from web.errors import render_error
from web.files import DISPOSITIONS, FILE_POLICIES, attachment_headers, checked_chunks
from web.messagerie.threads_common import REFUSALS, thread_links
from web.runtime import db, runtime

bp = Blueprint("messages_agent", __name__, url_prefix="/agent/messages")


@bp.errorhandler(ThreadNotFound)
@bp.errorhandler(AccessDenied)
def _not_found(_error: Exception) -> tuple[Response | str, int]:
    return render_error(404)


@bp.get("")
@role_required(Role.AGENT)
def liste() -> str:
    lines = reading.service_threads(db(), agent_actor())
    return render_template("messagerie/threads/agent_liste.html", lines=lines)


@bp.route("/<int:thread_id>", methods=["GET", "POST"])
@role_required(Role.AGENT)
def fil(thread_id: int) -> str | tuple[str, int] | BaseResponse:
    agent = agent_actor()
    error = None
    if request.method == "POST":
        body = request.form.get("message", "")
        try:
            threads.write_as_agent(db(), runtime().clock, agent, thread_id, body, thread_links())
        except MessageRefused as refused:
            db().rollback()
            error = str(REFUSALS[refused.refusal])
        else:
            flash(_("Your reply has been sent to the family."), "info")
            return redirect(url_for(".fil", thread_id=thread_id))
    page = reading.read_as_agent(db(), runtime().clock, agent, thread_id)
    html = render_template("messagerie/threads/agent_fil.html", page=page, error=error)
    return (html, 400) if error else html


@bp.get("/<int:thread_id>/documents/<int:document_id>/fichier")
@role_required(Role.AGENT)
def fichier(thread_id: int, document_id: int) -> Response:
    disposition = request.args.get("disposition", "attachment")
    if disposition not in DISPOSITIONS:
        abort(400)
    opened = threads.open_document(
        db(), runtime().vault, agent_actor(), thread_id, document_id, DISPOSITIONS[disposition]
    )
    document = opened.document
    headers = attachment_headers(document.original_name, disposition)
    headers["Content-Security-Policy"] = FILE_POLICIES[disposition]
    headers["X-Frame-Options"] = "SAMEORIGIN" if disposition == "inline" else "DENY"
    headers["Content-Length"] = str(document.size)
    return Response(checked_chunks(opened), mimetype=document.mime_type, headers=headers)
