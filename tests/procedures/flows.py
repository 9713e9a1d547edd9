"""Helpers shared by the end-to-end tests of the built-in procedures (test_<code>.py).

Plain functions rather than fixtures, so each test module shows the fixtures it builds.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Account, Role, Service
from coffre.clock import FrozenClock
from coffre.models import Document, Foyer, JournalEntry, MemberRole
from coffre.vault import Vault
from notifications.models import OutboxMessage
from procedures import catalogue, demandes, tasks
from procedures.bpmn import engine
from procedures.bpmn.expressions import RestrictedScriptEngine
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.models import Demande, DemandeEvent, Task, TaskState
from procedures.tasks import AgentActor
from tests.coffre.conftest import deposit, pdf_of
from tests.factories import make_account


def publish(session: Session, clock: FrozenClock, code: str) -> None:
    """Publish a built-in procedure as shipped in `workflows_bpmn/` (with its decision tables)."""
    definition, bpmn = catalogue.read_built_in(code)
    decisions = catalogue.read_decisions(catalogue.BUILT_IN / f"{code}.bpmn")
    catalogue.publish(session, clock, definition, bpmn, None, decisions)
    session.commit()


def family_of(session: Session, clock: FrozenClock, foyer: Foyer) -> FamilyActor:
    account = make_account(session, clock, Role.FAMILLE, foyer_id=foyer.id)
    return FamilyActor(account.id, foyer.id)


def agent_of(session: Session, clock: FrozenClock, *services: Service) -> AgentActor:
    account = make_account(session, clock, Role.AGENT)
    return AgentActor(account.id, frozenset(service.id for service in services))


def child_of(foyer: Foyer) -> int:
    return next(m.id for m in foyer.members if m.role is MemberRole.ENFANT)


def creche_papers(vault: Vault, session: Session, foyer: Foyer) -> list[Document]:
    """The three papers the crèche pre-registration asks for, deposited in the foyer's vault."""
    return [
        deposit(vault, session, foyer, pdf_of(3000), issued_on=date(2026, 8, 10)),
        deposit(vault, session, foyer, pdf_of(3001), type_code="avis_imposition"),
        deposit(
            vault, session, foyer, pdf_of(3002), type_code="carnet_vaccination",
            member_id=child_of(foyer),
        ),
    ]  # fmt: skip


def creche_form(foyer: Foyer) -> dict[str, str]:
    """A filled crèche pre-registration form for the foyer's child."""
    return {"enfant": str(child_of(foyer)), "date_entree": "2027-01-04", "jours": "4"}


def submitted_creche(
    session: Session, ctx: EngineContext, family: FamilyActor, vault: Vault, foyer: Foyer
) -> Demande:
    """A crèche pre-registration the family has submitted, with its papers."""
    draft = demandes.create_draft(session, ctx, family, "creche")
    ids = [document.id for document in creche_papers(vault, session, foyer)]
    return demandes.submit(session, ctx, family, draft.id, creche_form(foyer), ids)


def open_task(session: Session, demande: Demande) -> Task:
    """The demande's one task waiting for an agent or the family."""
    return session.scalars(
        select(Task).where(
            Task.demande_id == demande.id, Task.state.in_([TaskState.OPEN, TaskState.CLAIMED])
        )
    ).one()


def work(
    session: Session, ctx: EngineContext, agent: AgentActor, demande: Demande, data: dict[str, str]
) -> Demande:
    """The agent claims the demande's open task and completes it with `data`."""
    task = open_task(session, demande)
    tasks.claim(session, ctx, agent, task.id)
    return tasks.complete(session, ctx, agent, task.id, data)


def workflow_data(session: Session, demande: Demande) -> dict[str, object]:
    """What the diagram knows now: form values, agents' answers, operations' results."""
    session.refresh(demande)
    assert demande.workflow_state is not None
    workflow = engine.restore(demande.workflow_state, RestrictedScriptEngine())
    return engine.data_of(workflow)


def templates_sent(session: Session, family: FamilyActor) -> list[str]:
    """The templates queued for the family's account, oldest first."""
    account = session.get(Account, family.account_id)
    assert account is not None
    return list(
        session.scalars(
            select(OutboxMessage.template)
            .where(OutboxMessage.recipient == account.email)
            .order_by(OutboxMessage.id)
        )
    )


def journal_of(session: Session, foyer_id: int) -> list[JournalEntry]:
    """The foyer's journal chain, oldest first."""
    query = select(JournalEntry).where(JournalEntry.foyer_id == foyer_id)
    return list(session.scalars(query.order_by(JournalEntry.seq)))


def living_at(session: Session, foyer: Foyer, address: str) -> None:
    """The foyer moves to `address`, in the demo town."""
    foyer.address_line, foyer.postal_code, foyer.city = address, "33600", "Bellerive"
    session.commit()


def events_of(session: Session, demande: Demande, kind: str) -> list[DemandeEvent]:
    """The demande's history lines of one kind, oldest first."""
    query = select(DemandeEvent).where(
        DemandeEvent.demande_id == demande.id, DemandeEvent.kind == kind
    )
    return list(session.scalars(query.order_by(DemandeEvent.id)))


def decision_message(session: Session, demande: Demande) -> str:
    """What the family reads with the decision (the motif the diagram held at its end)."""
    [event] = events_of(session, demande, "decision")
    assert not event.internal  # the family reads it
    return event.comment
