"""The BPMN elements procedures need beyond tasks and gateways, end to end through the
demande services and the worker: a decision table, a sub-process with one check per child, a
reminder after 5 working days, a procedure called from this one, a message to the family's
pool, and an event-based gateway waiting for the family's answer or 10 days.

The example is `examples/aide_activites.bpmn` (with its `.dmn` and `.toml`); every step is
saved and restored like the built-in procedures' steps.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.family import family_accounts
from accounts.models import Service
from coffre.clock import FrozenClock
from coffre.models import Foyer, FoyerMember, MemberRole
from notifications.models import OutboxMessage
from notifications.templates import PROCESS_MESSAGE_TEMPLATE, render
from procedures import catalogue, demandes, tasks
from procedures.bpmn.diagrams import DiagramRejected
from procedures.definitions import load_definition
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.models import Demande, DemandeEvent, DemandeStatus, Task, TaskState
from procedures.tasks import AgentActor
from tests.factories import make_service
from tests.procedures.flows import agent_of, workflow_data

EXAMPLES = Path(__file__).parent / "examples"
LIVE = (TaskState.OPEN, TaskState.CLAIMED)


def example(name: str = "aide_activites") -> tuple[bytes, bytes, bytes]:
    return tuple(  # type: ignore[return-value]
        (EXAMPLES / f"{name}.{ext}").read_bytes() for ext in ("toml", "bpmn", "dmn")
    )


@pytest.fixture
def scolaire(db_session: Session) -> Service:
    return make_service(db_session, code="scolaire")


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, scolaire: Service) -> AgentActor:
    return agent_of(db_session, clock, scolaire)


@pytest.fixture
def published(db_session: Session, clock: FrozenClock, scolaire: Service) -> None:
    metadata, bpmn, dmn = example()
    definition = load_definition(metadata.decode("utf-8"))
    catalogue.publish(db_session, clock, definition, bpmn, None, dmn)
    db_session.commit()


@pytest.fixture
def children(db_session: Session, foyer: Foyer) -> list[FoyerMember]:
    added = [
        FoyerMember(role=MemberRole.ENFANT, first_name=name, last_name="Test")
        for name in ("Léa", "Tom")
    ]
    foyer.members.extend(added)
    db_session.commit()
    return added


def submitted(
    session: Session, ctx: EngineContext, family: FamilyActor, kids: list[FoyerMember], qf: str
) -> Demande:
    draft = demandes.create_draft(session, ctx, family, "aide_activites")
    form = {"enfants": ",".join(str(kid.id) for kid in kids), "quotient": qf}
    return demandes.submit(session, ctx, family, draft.id, form, [])


def live_tasks(session: Session, demande: Demande) -> list[Task]:
    query = select(Task).where(Task.demande_id == demande.id, Task.state.in_(LIVE))
    return list(session.scalars(query.order_by(Task.id)))


def work_all(session: Session, ctx: EngineContext, agent: AgentActor, demande: Demande) -> None:
    for task in live_tasks(session, demande):
        tasks.claim(session, ctx, agent, task.id)
        tasks.complete(session, ctx, agent, task.id, {"inscrit": "oui", "pieces_conformes": "oui"})


@pytest.mark.usefixtures("published")
def test_a_family_answer_ends_the_demande_after_each_child_and_the_called_check(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    children: list[FoyerMember],
) -> None:
    demande = submitted(db_session, ctx, family, children, "700")

    # The decision table set the amount; one check per child, named after the child.
    assert workflow_data(db_session, demande)["montant"] == 80
    checks = live_tasks(db_session, demande)
    assert sorted(task.title for task in checks) == [
        "Vérifier l'inscription de l'enfant — Léa",
        "Vérifier l'inscription de l'enfant — Tom",
    ]
    assert {task.service_id for task in checks} == set(agent.service_ids)
    tasks.claim(db_session, ctx, agent, checks[0].id)
    tasks.complete(db_session, ctx, agent, checks[0].id, {"inscrit": "oui"})
    assert [task.title for task in live_tasks(db_session, demande)] == [checks[1].title]
    work_all(db_session, ctx, agent, demande)

    # The called procedure's task, in the calling activity's lane (it has none of its own).
    [control] = live_tasks(db_session, demande)
    assert (control.spec_id, control.lane) == ("controler_pieces", "Service scolaire")
    work_all(db_session, ctx, agent, demande)

    # The message to the family's pool is in the history; the family now answers.
    kinds = db_session.scalars(
        select(DemandeEvent.comment).where(
            DemandeEvent.demande_id == demande.id, DemandeEvent.kind == "message"
        )
    ).all()
    assert kinds == ["confirmation_demandee"]
    # The family's pool is the family: its adults are e-mailed a notice, without the data.
    notices = db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == PROCESS_MESSAGE_TEMPLATE)
    ).all()
    adults = family_accounts(db_session, family.foyer_id)
    assert sorted(n.recipient for n in notices) == sorted(a.email for a in adults) != []
    subject, body = render(PROCESS_MESSAGE_TEMPLATE, json.loads(notices[0].context))
    assert "confirmez votre demande d'aide" in body and f"/famille/demandes/{demande.id}" in body
    assert "700" not in subject + body  # the quotient stays online
    [answer] = live_tasks(db_session, demande)
    assert (answer.spec_id, answer.for_family) == ("confirmation_recue", True)
    assert demande.wakes_at is not None  # the 10-day timer is waiting beside it
    tasks.complete_for_family(db_session, ctx, family, answer.id, {"confirme": "oui"})

    db_session.refresh(demande)
    assert demande.status is DemandeStatus.ACCEPTEE
    assert demande.wakes_at is None
    messages = select(DemandeEvent).where(
        DemandeEvent.demande_id == demande.id, DemandeEvent.kind == "message"
    )
    assert len(db_session.scalars(messages).all()) == 1  # recorded once, not at each step
    assert workflow_data(db_session, demande)["reponse_famille"] == {"confirme": True}


@pytest.mark.usefixtures("published")
def test_the_worker_fires_the_reminder_after_5_working_days_and_the_deadline_after_10_days(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    agent: AgentActor,
    children: list[FoyerMember],
) -> None:
    demande = submitted(db_session, ctx, family, children[:1], "300")
    assert workflow_data(db_session, demande)["montant"] == 150
    reminder_due = demande.wakes_at
    assert reminder_due is not None
    assert reminder_due == ctx.calendar.add_working_days(clock.now(), 5)

    clock.advance(timedelta(days=1))
    assert tasks.fire_timers(db_session, ctx) == 0  # not due yet

    clock.advance(reminder_due - clock.now())
    assert tasks.fire_timers(db_session, ctx) == 1
    db_session.refresh(demande)
    # Not interrupting: the check is still there, and the reminder's branch ran.
    assert [task.spec_id for task in live_tasks(db_session, demande)] == ["verifier_enfant"]
    assert workflow_data(db_session, demande).get("rappel_envoye") is True
    assert demande.status is not DemandeStatus.ACCEPTEE and demande.closed_at is None

    work_all(db_session, ctx, agent, demande)
    work_all(db_session, ctx, agent, demande)
    [answer] = live_tasks(db_session, demande)
    assert answer.for_family
    db_session.refresh(demande)
    assert demande.wakes_at == clock.now() + timedelta(days=10)

    clock.advance(timedelta(days=10))
    assert tasks.fire_timers(db_session, ctx) == 1
    db_session.refresh(demande)
    db_session.refresh(answer)
    assert demande.status is DemandeStatus.CLASSEE  # the timer's branch won the race
    assert answer.state is TaskState.CANCELLED
    assert tasks.fire_timers(db_session, ctx) == 0


def test_a_decision_table_goes_through_the_restricted_evaluator() -> None:
    metadata, bpmn, dmn = example()
    definition = load_definition(metadata.decode("utf-8"))
    hostile = dmn.replace(b"<text>150</text>", b"<text>__import__('os').system('id')</text>")

    with pytest.raises(DiagramRejected) as refused:
        catalogue.check(definition, bpmn, hostile)

    [problem] = refused.value.problems
    assert problem.code == "unsafe_expression"
    assert problem.element_id == "montant_aide"
    assert "table de décision « Montant de l'aide par enfant »" in str(problem)


def test_a_business_rule_task_needs_its_table_and_a_call_its_procedure() -> None:
    metadata, bpmn, _dmn = example()
    definition = load_definition(metadata.decode("utf-8"))
    broken = bpmn.replace(b'calledElement="controle_justificatifs"', b'calledElement="ailleurs"')
    broken = broken.replace(
        b'Contr\xc3\xb4le des justificatifs" isExecutable="true"', b'X" isExecutable="false"'
    )

    with pytest.raises(DiagramRejected) as refused:
        catalogue.check(definition, broken, b"")

    assert {(p.code, p.element_id) for p in refused.value.problems} == {
        ("unknown_decision", "calculer_aide"),
        ("unknown_called_element", "controle"),
    }
    messages = " ".join(str(p) for p in refused.value.problems)
    assert "table de décision « montant_aide » introuvable" in messages
    assert "la procédure appelée « ailleurs » n'est pas dans le fichier" in messages


@pytest.mark.usefixtures("published")
def test_a_demande_whose_timer_fails_is_retried_later_without_holding_up_the_others(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    children: list[FoyerMember],
) -> None:
    broken = submitted(db_session, ctx, family, children[:1], "300")
    sound = submitted(db_session, ctx, family, children[1:], "300")
    broken.workflow_state = "{ not a saved workflow"
    db_session.commit()
    due = sound.wakes_at
    assert due is not None and broken.wakes_at == due

    clock.advance(due - clock.now())
    assert tasks.fire_timers(db_session, ctx) == 2

    db_session.refresh(broken)
    db_session.refresh(sound)
    assert broken.wakes_at == clock.now() + tasks.TIMER_RETRY
    assert workflow_data(db_session, sound).get("rappel_envoye") is True
    assert tasks.fire_timers(db_session, ctx) == 0  # nothing else due before the retry
