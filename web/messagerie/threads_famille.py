"""The family's messages: its threads with the town's services, a new one, a thread, withdrawing
a shared document."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from messagerie import reading, threads
from messagerie.errors import MessageRefused, ThreadNotFound
from web.auth.guard import role_required
from web.errors import render_error
from web.extensions import limiter
from web.famille.blueprint import family_reader
from web.messagerie.threads_common import REFUSALS, chosen_ids, thread_links
from web.runtime import db, runtime

bp = Blueprint("messages_famille", __name__, url_prefix="/famille/messages")


@bp.errorhandler(ThreadNotFound)
def _not_found(_error: ThreadNotFound) -> tuple[Response | str, int]:
    return render_error(404)


@bp.get("")
@role_required(Role.FAMILLE)
def liste() -> str:
    lines = reading.family_threads(db(), family_reader().foyer_id)
    return render_template("messagerie/threads/famille_liste.html", lines=lines)


@bp.route("/nouveau", methods=["GET", "POST"])
@role_required(Role.FAMILLE)
# Each new thread e-mails every agent of the service: a flood of them would reach their boxes.
@limiter.limit("30 per hour", methods=["POST"])
def nouveau() -> str | tuple[str, int] | BaseResponse:
    family = family_reader()
    if request.method == "POST":
        new = threads.NewThread(
            service_id=_int(request.form.get("service", "")),
            subject=request.form.get("objet", ""),
            body=request.form.get("message", ""),
            demande_id=_int(request.form.get("demande", "")) or None,
            document_ids=chosen_ids("document"),
        )
        try:
            thread = threads.open_thread(db(), runtime().clock, family, new, thread_links())
        except MessageRefused as refused:
            db().rollback()
            return _new_form(str(REFUSALS[refused.refusal])), 400
        flash(_("Your message has been sent to the service."), "info")
        return redirect(url_for(".fil", thread_id=thread.id))
    return _new_form(None)


def _new_form(error: str | None) -> str:
    foyer_id = family_reader().foyer_id
    session = db()
    return render_template(
        "messagerie/threads/famille_nouveau.html",
        error=error,
        services=reading.services(session),
        demandes=reading.demandes(session, foyer_id),
        documents=reading.shareable_documents(session, foyer_id),
        form=request.form if request.method == "POST" else request.args,
        chosen=set(chosen_ids("document")) if request.method == "POST" else set(),
    )


@bp.route("/<int:thread_id>", methods=["GET", "POST"])
@role_required(Role.FAMILLE)
def fil(thread_id: int) -> str | tuple[str, int] | BaseResponse:
    family = family_reader()
    error = None
    if request.method == "POST":
        body, ids = request.form.get("message", ""), chosen_ids("document")
        try:
            threads.write_as_family(
                db(), runtime().clock, family, thread_id, body, thread_links(), ids
            )
        except MessageRefused as refused:
            db().rollback()
            error = str(REFUSALS[refused.refusal])
        else:
            flash(_("Your message has been sent to the service."), "info")
            return redirect(url_for(".fil", thread_id=thread_id))
    page = reading.read_as_family(db(), runtime().clock, family, thread_id)
    documents = reading.shareable_documents(db(), family.foyer_id)
    html = render_template(
        "messagerie/threads/famille_fil.html", page=page, documents=documents, error=error
    )
    return (html, 400) if error else html


@bp.post("/<int:thread_id>/documents/<int:document_id>/retirer")
@role_required(Role.FAMILLE)
def retirer(thread_id: int, document_id: int) -> BaseResponse:
    threads.withdraw_document(db(), runtime().clock, family_reader(), thread_id, document_id)
    flash(_("The service can no longer read this document."), "info")
    return redirect(url_for(".fil", thread_id=thread_id))


def _int(value: str) -> int:
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 10 else 0
