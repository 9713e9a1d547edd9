"""The family's journal page: every operation on its vault, newest first, page by page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from accounts.models import Role
from procedures.vault.journal import ActorKind, JournalLine, journal_page
from web.auth.guard import role_required
from web.counter import acted_foyer_id
from web.famille.blueprint import bp, family_reader
from web.famille.documents import PURPOSE_LABELS, REFUSAL_LABELS, type_label
from web.runtime import db

# What happened, by event; "%(document)s" is the document's type, in French.
EVENTS = {
    "document.deposited": _l("Document added to your safe: %(document)s"),
    "document.replaced": _l("New version of a document: %(document)s"),
    "document.deleted": _l("Document deleted with its earlier versions: %(document)s"),
    "document.read": _l("Document opened: %(document)s"),
    "document.scanned": _l("Antivirus check of a document: %(document)s"),
    "document.in_review": _l("Check of a document started: %(document)s"),
    "document.validated": _l("Document validated: %(document)s"),
    "document.refused": _l("Document refused: %(document)s"),
    "document.expired": _l("Document expired: %(document)s"),
    "consent.granted": _l("Document shared with a request: %(document)s"),
    "consent.revoked": _l("Sharing withdrawn: %(document)s"),
    "consent.ended": _l("Sharing ended, the request's retention period being over: %(document)s"),
    "message.document_shared": _l("Document shared in a message to a service: %(document)s"),
    "message.document_withdrawn": _l("Sharing in a message withdrawn: %(document)s"),
    "document.shared_with_team": _l(
        "Care plan shared with your child's school teams: %(document)s"
    ),
    "demande.retention_applied": _l("Request erased, its retention period being over"),
    "foyer.exported": _l("Whole safe downloaded"),
    "foyer.export_prepared": _l("Download of the whole safe prepared"),
    "key.created": _l("Your safe's encryption key created"),
    "foyer.situation_changed": _l("Change of situation applied to your household file"),
    "foyer.joined_with_code": _l("An adult joined the household with a family code"),
    "foyer.join_requested": _l("Someone asked to join the household"),
    "foyer.join_accepted": _l("Request to join the household accepted"),
    "foyer.join_refused": _l("Request to join the household refused"),
    "guichet.opened": _l("Counter: your household's file opened"),
    "guichet.closed": _l("Counter: your household's file closed"),
    "guichet.foyer_created": _l("Counter: household created"),
    "guichet.code_issued": _l("Counter: family code issued"),
    "guichet.act": _l("Counter: operations made for you"),
}
ACTORS = {
    ActorKind.OUTSIDER: _l("Someone outside the household"),
    ActorKind.AGENT: _l("An agent of the town"),
    ActorKind.SOFTWARE: _l("A service's software"),
    ActorKind.ADMIN: _l("An administrator of the town"),
    ActorKind.OPERATOR: _l("The portal's technical operator"),
    ActorKind.AUTOMATIC: _l("The portal, automatically"),
}


@dataclass(frozen=True)
class Row:
    """One entry of the page, its words ready to print."""

    at: datetime
    what: str
    who: str
    where: str | None  # the agent's service and its entity
    demande: str | None  # "2026-000123 — Pré-inscription en crèche"
    notes: list[str]


def row(line: JournalLine) -> Row:
    return Row(
        at=line.at,
        what=_what(line),
        who=line.adult_name if line.actor is ActorKind.ADULT and line.adult_name else _who(line),
        where=", ".join(name for name in (line.service, line.entity) if name) or None,
        demande=" — ".join(part for part in (line.demande_number, line.procedure) if part) or None,
        notes=_notes(line),
    )


def _what(line: JournalLine) -> str:
    template = EVENTS.get(line.event)
    if template is None:
        return _("Operation on your safe")
    document = type_label(line.type_code) if line.type_code else _("a document deleted since")
    return str(template) % {"document": document}  # a mapping: unused when not named


def _who(line: JournalLine) -> str:
    if line.actor is ActorKind.ADULT:
        return _("An adult of the household")
    return str(ACTORS[line.actor])


def _notes(line: JournalLine) -> list[str]:
    details, notes = line.details, []
    if line.event == "document.read" and "purpose" in details:
        notes.append(str(PURPOSE_LABELS.get(str(details["purpose"]), details["purpose"])))
    if line.event == "document.refused":
        # A reason of an older list than today's is left out: the event says enough.
        refused = {reason.value: label for reason, label in REFUSAL_LABELS.items()}
        if details.get("reason") in refused:
            notes.append(str(refused[str(details["reason"])]))
    if line.event == "foyer.exported" and "documents" in details:
        notes.append(ngettext("%(num)d document", "%(num)d documents", int(details["documents"])))
    if line.event == "guichet.act" and "changes" in details:
        notes.append(ngettext("%(num)d change", "%(num)d changes", int(details["changes"])))
    if line.actor is ActorKind.OPERATOR and "reason" in details:
        notes.append(_("Reason given: %(reason)s", reason=details["reason"]))
    return notes


@bp.get("/coffre/journal")
@role_required(Role.FAMILLE)
def journal() -> str:
    if acted_foyer_id() is not None:
        abort(403)  # the household's own record of who did what: for its adults only
    before = request.args.get("avant", type=int)
    page = journal_page(db(), family_reader().foyer_id, before)
    return render_template(
        "famille/journal.html",
        rows=[row(line) for line in page.lines],
        older=page.older,
        first=before is None,
    )
