"""The family's vault: its documents, their versions and readers, deletion and export."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from coffre.clock import PARIS, local_today
from coffre.consent import FamilyReader
from coffre.models import ExportState, VaultExport
from coffre.portability import prepared
from coffre.portability.export import export_chunks
from coffre.vault import MIB
from interop import portability
from procedures.vault import withdrawal
from web.auth.guard import role_required
from web.counter import acted_foyer_id
from web.famille.blueprint import bp, family_reader
from web.famille.documents import current_document, document_line, reads_by_others, vault_contents
from web.files import attachment_headers
from web.runtime import db, runtime


@bp.get("/coffre")
@role_required(Role.FAMILLE)
def coffre() -> str:
    reader = family_reader()
    groups = vault_contents(db(), reader.foyer_id, local_today(runtime().clock))
    adults = acted_foyer_id() is None  # an agent at the counter neither asks nor downloads
    return render_template(
        "famille/coffre.html",
        groups=groups,
        in_background=_in_background(reader.foyer_id),
        may_prepare=adults,
        prepared_export=_shown_export(reader.foyer_id) if adults else None,
    )


def _in_background(foyer_id: int) -> bool:
    """Whether the foyer's vault is too large to be zipped within one request."""
    threshold = runtime().settings.export_background_mb * MIB
    return prepared.vault_bytes(db(), foyer_id) > threshold


def _shown_export(foyer_id: int) -> VaultExport | None:
    """The foyer's newest prepared export, unless its days are over."""
    export = prepared.latest(db(), foyer_id)
    if export is None or export.state is ExportState.EXPIRED:
        return None
    over = export.expires_at is not None and export.expires_at <= runtime().clock.now()
    return None if over else export


@bp.get("/coffre/<int:document_id>/historique")
@role_required(Role.FAMILLE)
def historique(document_id: int) -> str:
    reader = family_reader()
    versions = runtime().vault.history(db(), reader.foyer_id, document_id)
    today = local_today(runtime().clock)
    lines = [document_line(version, today) for version in versions]
    return render_template("famille/historique.html", current=lines[0], lines=lines)


@bp.get("/coffre/<int:document_id>/consultations")
@role_required(Role.FAMILLE)
def consultations(document_id: int) -> str:
    reader = family_reader()
    versions = runtime().vault.history(db(), reader.foyer_id, document_id)
    reads = reads_by_others(db(), reader.foyer_id, versions)
    line = document_line(versions[0], local_today(runtime().clock))
    return render_template("famille/consultations.html", line=line, reads=reads)


@bp.get("/coffre/<int:document_id>/supprimer")
@role_required(Role.FAMILLE)
def supprimer_confirmation(document_id: int) -> str:
    document = current_document(db(), family_reader(), document_id)
    line = document_line(document, local_today(runtime().clock))
    return render_template("famille/supprimer.html", line=line)


@bp.post("/coffre/<int:document_id>/supprimer")
@role_required(Role.FAMILLE)
def supprimer(document_id: int) -> BaseResponse:
    reader = family_reader()
    # Before the deletion takes the consents with it: the agents of open demandes are told.
    ctx = runtime().engine_context
    withdrawal.before_deletion(db(), ctx, reader.account_id, reader.foyer_id, document_id)
    runtime().vault.delete_document(db(), reader.foyer_id, document_id, reader.account_id)
    flash(_("The document and its previous versions have been deleted."), "info")
    return redirect(url_for("famille.coffre"), 303)


@bp.get("/coffre/export")
@role_required(Role.FAMILLE)
def export() -> BaseResponse:
    reader = family_reader()
    if _in_background(reader.foyer_id):
        flash(_("Your safe is large: its download is prepared in the background."), "info")
        return redirect(url_for("famille.coffre"), 303)
    # The portal's other data on the foyer, as JSON (with its schema) and CSV, beside the
    # documents (décret 2018-853): small, so read whole with the rest before the first byte.
    data = portability.data_files(db(), reader.foyer_id)
    chunks = export_chunks(db(), runtime().vault, reader, data)
    filename = f"coffre-famille-{local_today(runtime().clock).isoformat()}.zip"
    # No stream_with_context: the ZIP needs neither the request nor its session once
    # export_chunks has committed, and the session is closed before the first byte is sent.
    return Response(
        chunks,
        mimetype="application/zip",
        headers=attachment_headers(filename, "attachment"),
    )


def adult_reader() -> FamilyReader:
    """The logged-in adult of the foyer; an agent, even at the counter, may not."""
    if acted_foyer_id() is not None:
        abort(403)  # a foyer's whole vault goes to its adults only
    return family_reader()


@bp.post("/coffre/export/preparer")
@role_required(Role.FAMILLE)
def preparer_export() -> BaseResponse:
    prepared.request_export(db(), runtime().clock, adult_reader())
    flash(_("Your export is being prepared: you will receive an e-mail when it is ready."), "info")
    return redirect(url_for("famille.coffre"), 303)


@bp.get("/coffre/export/<int:export_id>")
@role_required(Role.FAMILLE)
def export_prepare(export_id: int) -> Response:
    opened = prepared.open_export(db(), runtime().vault, adult_reader(), export_id)
    assert opened.export.ready_at is not None
    day = opened.export.ready_at.astimezone(PARIS).date()
    return Response(
        opened.chunks,
        mimetype="application/zip",
        headers=attachment_headers(f"coffre-famille-{day.isoformat()}.zip", "attachment"),
    )
