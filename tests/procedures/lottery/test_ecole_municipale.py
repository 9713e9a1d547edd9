"""The sports school and conservatoire registration driven end to end: the age refused at
once, places for all without a draw, an over-subscribed course drawn by lottery (replayable,
journaled), the waiting list promoted on a withdrawal, and closed at the season's end."""

from __future__ import annotations

import json
import tomllib
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from coffre.models import JournalEntry, MemberRole
from procedures import catalogue, demandes
from procedures.errors import Incomplete, InvalidTransition
from procedures.history import EngineContext
from procedures.lottery import places
from procedures.lottery.draws import draw_seed, drawn_order, fingerprint
from procedures.models import Demande, DemandeEvent, DemandeStatus
from procedures.operations.ecole import COURSES_FILE, age_on, read_courses, season_of
from procedures.tasks import AgentActor
from tests.coffre.conftest import make_foyer
from tests.factories import make_service
from tests.procedures.flows import (
    agent_of,
    child_of,
    family_of,
    open_task,
    publish,
    workflow_data,
)

CODE = "ecole_municipale"
SEASON = "2026-2027"  # the test clock stands on 1 September 2026
PUBLISHED = "tirage public du 3 juillet : 12 27 33 41"
PIANO_AGE = date(2017, 3, 1)  # 9 on 1 September 2026: piano is 7 to 12


@pytest.fixture
def sports(db_session: Session) -> Service:
    return make_service(db_session, code="sports-culture")


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, sports: Service) -> AgentActor:
    publish(db_session, clock, CODE)
    return agent_of(db_session, clock, sports)


def registered(
    session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    label: str,
    course: str = "piano",
    born: date = PIANO_AGE,
) -> Demande:
    """A new foyer whose child, born on `born`, is registered for `course`."""
    foyer = make_foyer(session, clock, label)
    next(m for m in foyer.members if m.role is MemberRole.ENFANT).birth_date = born
    session.commit()
    family = family_of(session, clock, foyer)
    draft = demandes.create_draft(session, ctx, family, CODE)
    answers = {"enfant": str(child_of(foyer)), "cours": course}
    return demandes.submit(session, ctx, family, draft.id, answers, [])


def family_messages(session: Session, demande: Demande, kind: str) -> list[str]:
    events = session.scalars(
        select(DemandeEvent)
        .where(DemandeEvent.demande_id == demande.id, DemandeEvent.kind == kind)
        .order_by(DemandeEvent.id)
    )
    return [event.comment for event in events if not event.internal]


def statuses(session: Session, registrations: list[Demande]) -> list[DemandeStatus]:
    for demande in registrations:
        session.refresh(demande)
    return [demande.status for demande in registrations]


def test_a_child_not_of_the_course_s_age_on_1_september_is_refused_at_once(
    db_session: Session, ctx: EngineContext, clock: FrozenClock, agent: AgentActor
) -> None:
    demande = registered(db_session, ctx, clock, "Martin", "eveil-sportif", PIANO_AGE)

    assert demande.status is DemandeStatus.REFUSEE and demande.closed_at is not None
    assert workflow_data(db_session, demande)["etude"] == {
        "cours": "eveil-sportif", "nom": "Éveil sportif", "saison": SEASON, "age": 9,
        "age_ok": False,
    }  # fmt: skip
    [motif] = family_messages(db_session, demande, "decision")
    assert motif.startswith("Votre enfant n'aura pas l'âge de ce cours au 1er septembre")


def test_registrations_wait_for_the_allocation_which_without_over_subscription_draws_nothing(
    db_session: Session, ctx: EngineContext, clock: FrozenClock, agent: AgentActor
) -> None:
    registrations = [registered(db_session, ctx, clock, f"F{n}") for n in range(3)]
    task = open_task(db_session, registrations[0])
    assert task.spec_id == "attribuer_place"
    assert task.title == "Attribution des places du cours (tirage au sort)"

    draw = places.allocate(db_session, ctx, "piano", SEASON, "", agent.account_id)

    assert not draw.lottery and draw.seed == "" and draw.places == 4
    assert json.loads(draw.drawn_order) == [d.id for d in registrations]
    assert statuses(db_session, registrations) == [DemandeStatus.ACCEPTEE] * 3
    [motif] = family_messages(db_session, registrations[0], "decision")
    assert motif.startswith("Attribution des places du cours Piano, saison 2026-2027 : une place")
    [entry] = db_session.scalars(
        select(JournalEntry).where(JournalEntry.event == "attribution_places")
    )
    assert entry.chain == "system" and entry.actor_id == agent.account_id


def test_an_over_subscribed_course_is_drawn_from_the_published_value_and_journaled(
    db_session: Session, ctx: EngineContext, clock: FrozenClock, agent: AgentActor
) -> None:
    registrations = [registered(db_session, ctx, clock, f"F{n}") for n in range(7)]
    ids = [d.id for d in registrations]
    with pytest.raises(Incomplete):  # a lottery needs its published value
        places.allocate(db_session, ctx, "piano", SEASON, " ", agent.account_id)

    draw = places.allocate(db_session, ctx, "piano", SEASON, PUBLISHED, agent.account_id)

    seed = draw_seed("piano", SEASON, PUBLISHED)
    order = drawn_order(ids, seed)  # anyone can replay it
    assert (draw.lottery, draw.seed, draw.published_seed, draw.places) == (
        True, seed, PUBLISHED, 4,
    )  # fmt: skip
    assert json.loads(draw.candidates) == ids and json.loads(draw.drawn_order) == order
    assert draw.run_by == agent.account_id and draw.run_at == clock.now()
    by_id = {d.id: d for d in registrations}
    drawn = [by_id[demande_id] for demande_id in order]
    assert (
        statuses(db_session, drawn)
        == [DemandeStatus.ACCEPTEE] * 4 + [DemandeStatus.EN_INSTRUCTION] * 3
    )
    assert [open_task(db_session, d).spec_id for d in drawn[4:]] == ["liste_attente"] * 3
    assert family_messages(db_session, drawn[5], "agent_message") == [
        "Tirage au sort du cours Piano, saison 2026-2027 : votre enfant est n° 2 sur la liste "
        "d'attente. Une place lui sera attribuée dès qu'une se libère, dans l'ordre de la liste."
    ]
    [entry] = db_session.scalars(select(JournalEntry).where(JournalEntry.event == "tirage_au_sort"))
    assert json.loads(entry.details) == {
        "tirage": draw.id, "cours": "piano", "saison": SEASON, "tour": 1, "places": 4,
        "candidats": 7, "graine": seed, "ordre": fingerprint(order),
    }  # fmt: skip


def test_a_withdrawal_gives_the_place_to_the_first_of_the_list_and_closing_ends_the_others(
    db_session: Session, ctx: EngineContext, clock: FrozenClock, agent: AgentActor
) -> None:
    registrations = [registered(db_session, ctx, clock, f"F{n}") for n in range(6)]
    draw = places.allocate(db_session, ctx, "piano", SEASON, PUBLISHED, agent.account_id)
    by_id = {d.id: d for d in registrations}
    drawn = [by_id[demande_id] for demande_id in json.loads(draw.drawn_order)]

    promoted = places.withdraw(db_session, ctx, drawn[1].id, agent.account_id, "")

    assert promoted == [drawn[4]]
    assert statuses(db_session, drawn) == [
        DemandeStatus.ACCEPTEE, DemandeStatus.ANNULEE, DemandeStatus.ACCEPTEE,
        DemandeStatus.ACCEPTEE, DemandeStatus.ACCEPTEE, DemandeStatus.EN_INSTRUCTION,
    ]  # fmt: skip
    assert workflow_data(db_session, drawn[4])["attribution"] == "place"
    [motif] = family_messages(db_session, drawn[4], "decision")
    assert motif.startswith("Une place s'est libérée au cours Piano")
    with pytest.raises(InvalidTransition):  # a place given up is given up once
        places.withdraw(db_session, ctx, drawn[1].id, agent.account_id, "")

    assert places.close_waiting_list(db_session, ctx, "piano", SEASON, agent.account_id) == 1

    assert statuses(db_session, [drawn[5]]) == [DemandeStatus.CLASSEE]
    [motif] = family_messages(db_session, drawn[5], "decision")
    assert "La liste d'attente du cours Piano pour la saison 2026-2027 est close" in motif


def test_a_late_registration_after_the_draw_goes_to_the_end_of_the_list_without_a_draw(
    db_session: Session, ctx: EngineContext, clock: FrozenClock, agent: AgentActor
) -> None:
    [registered(db_session, ctx, clock, f"F{n}") for n in range(5)]
    places.allocate(db_session, ctx, "piano", SEASON, PUBLISHED, agent.account_id)
    late = registered(db_session, ctx, clock, "Retard")

    second = places.allocate(db_session, ctx, "piano", SEASON, "", agent.account_id)

    assert (second.round, second.lottery, second.places) == (2, False, 0)
    assert open_task(db_session, late).spec_id == "liste_attente"
    assert "n° 2 sur la liste d'attente" in family_messages(db_session, late, "agent_message")[0]
    with pytest.raises(InvalidTransition):  # nobody left to place
        places.allocate(db_session, ctx, "piano", SEASON, PUBLISHED, agent.account_id)


def test_the_season_and_ages_are_counted_on_1_september() -> None:
    assert season_of(date(2026, 12, 7)) == date(2027, 9, 1)
    assert season_of(date(2026, 9, 1)) == date(2026, 9, 1)
    assert age_on(date(2019, 9, 1), date(2027, 9, 1)) == 8
    assert age_on(date(2019, 9, 2), date(2027, 9, 1)) == 7


def test_the_form_offers_exactly_the_courses_of_the_courses_file() -> None:
    definition, _ = catalogue.read_built_in(CODE)
    [course_field] = [field for field in definition.fields if field.name == "cours"]
    courses = read_courses()
    assert list(course_field.choices) == list(courses)
    for code, course in courses.items():  # the label says the ages the study checks
        assert (
            f"{course.name} ({course.min_age} à {course.max_age} ans)"
            in (course_field.choice_labels[code])
        )
    assert tomllib.loads(COURSES_FILE.read_text(encoding="utf-8"))["cours"]


def test_no_document_is_asked() -> None:
    """The decision needs only the child's birth date, already in the household file (CNIL)."""
    assert catalogue.read_built_in(CODE)[0].documents == ()
