"""A document's preview page and its plaintext, streamed with the headers a safe file needs."""

from __future__ import annotations

import logging

from flask import Response, abort, render_template, request

from accounts.models import Role
from coffre.clock import local_today
from web.antivirus import quarantine_reason
from web.auth.guard import role_required
from web.famille.blueprint import bp, family_reader
from web.famille.documents import current_document, document_line
from web.files import DISPOSITIONS, FILE_POLICIES, PREVIEWS, attachment_headers, checked_chunks
from web.runtime import db, runtime

log = logging.getLogger(__name__)


@bp.get("/coffre/<int:document_id>/voir")
@role_required(Role.FAMILLE)
def voir(document_id: int) -> str:
    document = current_document(db(), family_reader(), document_id, current_only=False)
    line = document_line(document, local_today(runtime().clock))
    return render_template(
        "famille/voir.html",
        line=line,
        preview=PREVIEWS.get(document.mime_type),
        quarantine=quarantine_reason(),
    )


@bp.get("/coffre/<int:document_id>/fichier")
@role_required(Role.FAMILLE)
def fichier(document_id: int) -> Response:
    disposition = request.args.get("disposition", "attachment")
    if disposition not in DISPOSITIONS:
        abort(400)
    opened = runtime().vault.open(
        db(), family_reader(), document_id, purpose=DISPOSITIONS[disposition]
    )
    document = opened.document
    headers = attachment_headers(document.original_name, disposition)
    headers["Content-Security-Policy"] = FILE_POLICIES[disposition]
    headers["X-Frame-Options"] = "SAMEORIGIN" if disposition == "inline" else "DENY"
    headers["Content-Length"] = str(document.size)
    # No stream_with_context: the chunks need no session, so the database connection is
    # given back before a slow download starts.
    return Response(checked_chunks(opened), mimetype=document.mime_type, headers=headers)
