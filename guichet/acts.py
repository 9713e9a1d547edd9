"""Each act an agent does at the counter for a family: journaled, and told to the family.

An act is one change made from the family's pages in counter mode. What it changed is
already on record under the agent's account id: the vault's journal entries (deposit,
replacement, deletion, consent withdrawn) and the demandes' events (submitted, answered,
cancelled...). `record_act` adds a `guichet.act` entry to the foyer's chain and queues one
e-mail per family account listing those changes, keyed by the act's entry (one act, one
message, whatever retries). A foyer without an account yet (created at the counter, codes
not used) gets no e-mail: its journal still holds every act.
"""

from __future__ import annotations

import json
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.family import family_accounts
from accounts.models import Account
from coffre.catalogue import DOCUMENT_TYPES
from coffre.clock import Clock
from coffre.journal import chain as journal
from coffre.models import JournalEntry
from guichet.sessions import CounterSession, marks
from notifications.outbox import enqueue
from notifications.templates import GUICHET_TEMPLATE
from procedures.models import Demande, DemandeEvent, ProcedureVersion

HOUSEHOLD_UPDATE = "mise à jour de votre dossier famille (adresse, enfants)"
_VAULT_LINES = {
    "document.deposited": "dépôt du justificatif « {type} » dans votre coffre-fort",
    "document.replaced": "dépôt d'une nouvelle version du justificatif « {type} »",
    "document.deleted": "suppression d'un justificatif de votre coffre-fort",
    "consent.revoked": "retrait du partage d'un justificatif avec une demande",
}
_DEMANDE_LINES = {
    "submitted": "envoi de la demande « {title} » (référence {number})",
    "cancelled": "annulation de la demande « {title} » (référence {number})",
    "family_answered": "réponse au service pour la demande « {title} » (référence {number})",
}
_OTHER_DEMANDE_LINE = "étape de la demande « {title} » (référence {number})"


def record_act(
    session: Session,
    clock: Clock,
    counter: CounterSession,
    *,
    page: str,
    link: str,
    household: bool = False,
) -> CounterSession:
    """Journal one act done for the foyer and e-mail its family what it changed; commits.

    `page` names the page used (no personal data: it goes into the journal); `household`
    says the page changes the household file, which no other record tells of; `link` is the
    family space's address for the e-mail. Returns the session with its marks moved on.
    """
    journal_mark, event_mark = marks(session)
    lines = _vault_lines(session, counter, journal_mark) + _demande_lines(
        session, counter, event_mark
    )
    if household and not lines:
        lines.append(HOUSEHOLD_UPDATE)
    entry = journal.record(
        session,
        clock,
        "guichet.act",
        foyer_id=counter.foyer_id,
        actor_id=counter.agent_id,
        details={"page": page[:80], "changes": len(lines)},
    )
    session.flush()
    if lines:
        _notify(session, clock, counter, entry.id, lines, link)
    session.commit()
    return replace(counter, journal_mark=journal_mark, event_mark=event_mark)


def _vault_lines(session: Session, counter: CounterSession, up_to: int) -> list[str]:
    entries = session.scalars(
        select(JournalEntry)
        .where(
            JournalEntry.id > counter.journal_mark,
            JournalEntry.id <= up_to,
            JournalEntry.chain == journal.chain_of(counter.foyer_id),
            JournalEntry.actor_id == counter.agent_id,
            JournalEntry.event.in_(_VAULT_LINES),
        )
        .order_by(JournalEntry.id)
    )
    lines = []
    for entry in entries:
        code = str(json.loads(entry.details).get("type", ""))
        kind = DOCUMENT_TYPES.get(code)
        lines.append(_VAULT_LINES[entry.event].format(type=kind.label if kind else code))
    return lines


def _demande_lines(session: Session, counter: CounterSession, up_to: int) -> list[str]:
    rows = session.execute(
        select(DemandeEvent.kind, Demande.number, ProcedureVersion.title)
        .join(Demande, Demande.id == DemandeEvent.demande_id)
        .join(ProcedureVersion, ProcedureVersion.id == Demande.procedure_version_id)
        .where(
            DemandeEvent.id > counter.event_mark,
            DemandeEvent.id <= up_to,
            DemandeEvent.actor_id == counter.agent_id,
            DemandeEvent.internal.is_(False),
            Demande.foyer_id == counter.foyer_id,
        )
        .order_by(DemandeEvent.id)
    )
    return [
        _DEMANDE_LINES.get(kind, _OTHER_DEMANDE_LINE).format(title=title, number=number or "—")
        for kind, number, title in rows
    ]


def _notify(
    session: Session,
    clock: Clock,
    counter: CounterSession,
    act_id: int,
    lines: list[str],
    link: str,
) -> None:
    agent = session.get(Account, counter.agent_id)
    assert agent is not None  # the agent acting now has an account
    context = {
        "agent": agent.display_name,
        "operations": "\n".join(f"- {line}" for line in lines),
        "lien": link,
    }
    for account in family_accounts(session, counter.foyer_id):
        enqueue(
            session,
            clock,
            key=f"guichet:{act_id}:{account.id}",
            recipient=account.email,
            template=GUICHET_TEMPLATE,
            context=context,
        )
