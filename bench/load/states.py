"""The bench families' demandes, driven through the real services into every state.

Each foyer starts two procedures it holds the papers for (`papers.PAPERS`); each demande is
then submitted (`procedures.demandes.submit`), and worked by an agent of the task's service
(`procedures.tasks`) until it reaches the state its number picks, so that the workflow
state, tasks, events, grants and outbox rows are those the portal itself writes.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Account
from coffre.models import Document, FoyerMember, MemberRole
from procedures import demandes, tasks
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.models import Demande, DemandeStatus, ProcedureVersion, Task, TaskState
from procedures.tasks import AgentActor

# foyer kind (number % 4) -> its two procedures.
PROCEDURES = {
    0: ("creche", "quotient_familial"),
    1: ("periscolaire", "signalement"),
    2: ("inscription_scolaire", "attestation"),
    3: ("periscolaire", "attestation"),
}
# The share of each final state: a third of the demandes still wait in the inboxes.
OUTCOMES = [
    ("brouillon", 5),
    ("deposee", 25),
    ("en_instruction", 10),
    ("attente_famille", 5),
    ("acceptee", 35),
    ("refusee", 10),
    ("classee", 5),
    ("annulee", 5),
]
# What an agent answers at each step, by outcome then task; missing: an empty form.
ANSWERS: dict[str, dict[str, dict[str, str]]] = {
    "acceptee": {
        "decision_commission": {"decision": "place"},
        "accepter_place": {"reponse": "acceptee"},
        "valider_affectation": {"decision": "valider"},
        "verifier_dossier": {"decision": "valider"},
        "valider_quotient": {"decision": "valider", "quotient": "640", "tranche": "C",
                             "valide_jusqu_au": "2027-12-31"},
        "completer_donnees": {"decision": "delivrer", "montant": "1450"},
        "prendre_en_compte": {"suite": "enregistre"},
    },
    "refusee": {
        "decision_commission": {"decision": "refus", "motif": "Dossier hors commune."},
        "valider_affectation": {"decision": "refuser", "motif": "Hors secteur."},
        "verifier_dossier": {"decision": "refuser", "motif": "Assurance manquante."},
        "valider_quotient": {"decision": "refuser"},
        "completer_donnees": {"decision": "refuser", "motif": "Aucune présence."},
        "prendre_en_compte": {"suite": "sans_suite"},
    },
    "classee": {
        "decision_commission": {"decision": "attente"},
        "prendre_en_compte": {"suite": "sans_suite"},
    },
}  # fmt: skip


def outcome_of(number: int, slot: int) -> str:
    """The state a foyer's demande ends in, the same on every run (resumable)."""
    pick = random.Random(number * 2 + slot).randrange(100)
    for name, weight in OUTCOMES:
        if pick < weight:
            return name
        pick -= weight
    return OUTCOMES[-1][0]


def family_form(code: str, child: int) -> dict[str, str]:
    """What the family types in the procedure's form."""
    forms: dict[str, dict[str, object]] = {
        "creche": {"enfant": child, "date_entree": "2027-01-04", "jours": "4"},
        "quotient_familial": {"nombre_parts": "2.5", "revenu_fiscal_reference": "31000"},
        "periscolaire": {"enfant": child, "cantine": "oui", "garderie_soir": "oui"},
        "signalement": {"nature": "absence", "enfant": child, "date_debut": "2026-11-16"},
        "inscription_scolaire": {"enfant": child, "niveau": "CP", "date_entree": "2027-09-01"},
        # Fiscal, without the amount: the service completes it before it is issued.
        "attestation": {"type_attestation": "fiscale", "enfant": child, "annee": "2025"},
    }  # fmt: skip
    return {key: str(value) for key, value in forms[code].items()}


def ensure_demandes(
    session: Session,
    ctx: EngineContext,
    foyer_id: int,
    number: int,
    agents: Mapping[int, list[int]],
) -> int:
    """Start the foyer's missing demandes and drive each to its state; how many were made."""
    account_id = session.scalar(select(Account.id).where(Account.foyer_id == foyer_id))
    assert account_id is not None
    family = FamilyActor(account_id, foyer_id)
    started = set(
        session.scalars(
            select(ProcedureVersion.code)
            .join(Demande, Demande.procedure_version_id == ProcedureVersion.id)
            .where(Demande.foyer_id == foyer_id)
        )
    )
    made = 0
    for slot, code in enumerate(PROCEDURES[number % 4]):
        if code not in started:
            outcome = outcome_of(number, slot)
            _drive(session, ctx, family, code, outcome, agents, number)
            made += 1
    return made


def _drive(
    session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    code: str,
    outcome: str,
    agents: Mapping[int, list[int]],
    number: int,
) -> None:
    draft = demandes.create_draft(session, ctx, family, code)
    if outcome == "brouillon":
        return
    child = session.scalar(
        select(FoyerMember.id)
        .where(FoyerMember.foyer_id == family.foyer_id, FoyerMember.role == MemberRole.ENFANT)
        .order_by(FoyerMember.id)
        .limit(1)
    )
    ids = list(session.scalars(select(Document.id).where(Document.foyer_id == family.foyer_id)))
    demande = demandes.submit(session, ctx, family, draft.id, family_form(code, child or 0), ids)
    if outcome == "deposee":
        return
    if outcome == "annulee":
        demandes.cancel(session, ctx, family, demande.id)
        return
    rng = random.Random(number)
    task = _live_task(session, demande.id)
    if task is None:
        return  # the diagram ended on submission
    agent = _agent_for(task, agents, rng)
    tasks.claim(session, ctx, agent, task.id)
    if outcome == "en_instruction":
        return
    if outcome == "attente_famille":
        tasks.ask_family(session, ctx, agent, task.id, "Merci de joindre un justificatif.", [])
        return
    _work_to_end(session, ctx, family, demande.id, outcome, agents, rng)


def _work_to_end(
    session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    demande_id: int,
    outcome: str,
    agents: Mapping[int, list[int]],
    rng: random.Random,
) -> None:
    answers = ANSWERS.get(outcome, {})
    fallback = ANSWERS["acceptee"]
    for _step in range(6):
        demande = session.get(Demande, demande_id)
        assert demande is not None
        if demande.status not in (DemandeStatus.DEPOSEE, DemandeStatus.EN_INSTRUCTION):
            return
        task = _live_task(session, demande_id)
        if task is None:
            return
        form = answers.get(task.spec_id, fallback.get(task.spec_id, {}))
        if task.for_family:
            tasks.complete_for_family(session, ctx, family, task.id, form)
            continue
        agent = _agent_for(task, agents, rng)
        if task.state is TaskState.OPEN:
            tasks.claim(session, ctx, agent, task.id)
        elif task.assignee_id is not None:
            agent = AgentActor(task.assignee_id, agent.service_ids)
        tasks.complete(session, ctx, agent, task.id, form)


def _live_task(session: Session, demande_id: int) -> Task | None:
    return session.scalar(
        select(Task)
        .where(Task.demande_id == demande_id, Task.state.in_([TaskState.OPEN, TaskState.CLAIMED]))
        .order_by(Task.id)
        .limit(1)
    )


def _agent_for(task: Task, agents: Mapping[int, list[int]], rng: random.Random) -> AgentActor:
    assert task.service_id is not None
    return AgentActor(rng.choice(agents[task.service_id]), frozenset({task.service_id}))
