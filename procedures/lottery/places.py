"""A course's places: allocated once the registrations close, by lottery when over-subscribed,
then given to the waiting list in drawn order as places free up.

Each demande of `ecole_municipale` whose child is of the course's age waits at the task
`attribuer_place`. `allocate` completes every such task of one course and season at once:
when there are places for all, each gets one (no draw); otherwise the places go to the first
of the drawn order (`draws`) and the others to the task `liste_attente`, in that order. The
allocation is kept whole (`CourseDraw`) and journaled in the tamper-evident system chain;
each family reads its outcome in its demande's history. A demande filed after the draw takes
a free place, or the end of the list, in filing order (a later round, never a new draw).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coffre.clock import PARIS
from coffre.journal import chain as journal
from procedures.bpmn import engine
from procedures.deadlines.worked_time import store_worked_time
from procedures.errors import Incomplete, InvalidTransition, TaskConflict
from procedures.history import EngineContext, record_event
from procedures.lottery.draws import draw_seed, drawn_order, fingerprint
from procedures.models import (
    CourseDraw,
    Demande,
    DemandeStatus,
    ProcedureVersion,
    Task,
    TaskState,
)
from procedures.operations.ecole import Course, read_courses, season_label, season_of
from procedures.progress import all_or_nothing, set_status, step

PROCEDURE = "ecole_municipale"
ALLOCATION_STEP, WAITING_STEP = "attribuer_place", "liste_attente"
ACTIVE = (TaskState.OPEN, TaskState.CLAIMED)


@dataclass(frozen=True)
class Candidate:
    demande: Demande
    task: Task


def season_for(demande: Demande) -> str:
    """The season a demande is for, from the day it was filed (« 2027-2028 »)."""
    sent = demande.submitted_at or demande.created_at
    return season_label(season_of(sent.astimezone(PARIS).date()))


def course_of(demande: Demande) -> str:
    return str(json.loads(demande.form_data or "{}").get("cours", ""))


def waiting_at(session: Session, spec_id: str, course: str, season: str) -> list[Candidate]:
    """The demandes of the course and season waiting at `spec_id`, by demande id."""
    rows = session.execute(
        select(Demande, Task)
        .join(Task, Task.demande_id == Demande.id)
        .join(ProcedureVersion, ProcedureVersion.id == Demande.procedure_version_id)
        .where(
            ProcedureVersion.code == PROCEDURE,
            Task.spec_id == spec_id,
            Task.state.in_(ACTIVE),
        )
        .order_by(Demande.id)
    ).all()
    return [
        Candidate(demande, task)
        for demande, task in rows
        if course_of(demande) == course and season_for(demande) == season
    ]


def placed(session: Session, course: str, season: str) -> list[Demande]:
    """The accepted demandes of the course and season: the places taken."""
    accepted = session.scalars(
        select(Demande)
        .join(ProcedureVersion, ProcedureVersion.id == Demande.procedure_version_id)
        .where(ProcedureVersion.code == PROCEDURE, Demande.status == DemandeStatus.ACCEPTEE)
        .order_by(Demande.id)
    )
    return [d for d in accepted if course_of(d) == course and season_for(d) == season]


def draws_of(session: Session, course: str, season: str) -> list[CourseDraw]:
    """The course's allocations for the season, first round first."""
    return list(
        session.scalars(
            select(CourseDraw)
            .where(
                CourseDraw.procedure_code == PROCEDURE,
                CourseDraw.course == course,
                CourseDraw.season == season,
            )
            .order_by(CourseDraw.round)
        )
    )


def order_of(draw: CourseDraw) -> list[int]:
    """The demande ids of an allocation, places first, then the waiting list's order."""
    return [int(demande_id) for demande_id in json.loads(draw.drawn_order)]


def known_course(course: str) -> Course:
    found = read_courses().get(course)
    if found is None:
        raise InvalidTransition(f"unknown course {course!r}")
    return found


def free_places(session: Session, course: Course, season: str) -> int:
    return max(0, course.places - len(placed(session, course.code, season)))


def allocate(
    session: Session,
    ctx: EngineContext,
    course_code: str,
    season: str,
    published_seed: str,
    actor_id: int | None,
) -> CourseDraw:
    """Allocate the places of a course to the demandes waiting for them, by lottery when
    they are more than the places; commit, and return the allocation kept.

    Incomplete when a lottery is needed and no published value was given for its seed.
    """
    course = known_course(course_code)
    with all_or_nothing(session):
        draw = _allocate(session, ctx, course, season, published_seed, actor_id)
        session.commit()
    return draw


def _allocate(
    session: Session,
    ctx: EngineContext,
    course: Course,
    season: str,
    published_seed: str,
    actor_id: int | None,
) -> CourseDraw:
    promote(session, ctx, course.code, season, actor_id)  # the list before newcomers
    candidates = waiting_at(session, ALLOCATION_STEP, course.code, season)
    if not candidates:
        raise InvalidTransition(f"no demande of {course.code} {season} waits for a place")
    rounds = draws_of(session, course.code, season)
    free = free_places(session, course, season)
    ids = [c.demande.id for c in candidates]
    lottery = not rounds and len(ids) > free
    if lottery and not published_seed.strip():
        raise Incomplete(["Saisissez la valeur publiée qui sert de graine au tirage au sort."])
    seed = draw_seed(course.code, season, published_seed) if lottery else ""
    order = drawn_order(ids, seed) if lottery else ids
    draw = CourseDraw(
        procedure_code=PROCEDURE, course=course.code, season=season, round=len(rounds) + 1,
        lottery=lottery, published_seed=published_seed.strip() if lottery else "", seed=seed,
        places=free, candidates=json.dumps(ids), drawn_order=json.dumps(order),
        run_by=actor_id, run_at=ctx.clock.now(),
    )  # fmt: skip
    session.add(draw)
    _flush_once(session, course.code, season)
    _journal(session, ctx, draw, order)
    waiting_before = len(waiting_at(session, WAITING_STEP, course.code, season))
    by_id = {c.demande.id: c for c in candidates}
    for rank, demande_id in enumerate(order):
        _settle(session, ctx, by_id[demande_id], course, draw, rank, waiting_before, actor_id)
    return draw


def _flush_once(session: Session, course: str, season: str) -> None:
    """Two agents allocating the same course at once: the second is refused."""
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise TaskConflict(f"{course} {season} was allocated meanwhile") from None


def _journal(session: Session, ctx: EngineContext, draw: CourseDraw, order: Sequence[int]) -> None:
    journal.record(
        session, ctx.clock, "tirage_au_sort" if draw.lottery else "attribution_places",
        actor_id=draw.run_by,
        details={
            "tirage": draw.id, "cours": draw.course, "saison": draw.season,
            "tour": draw.round, "places": draw.places, "candidats": len(order),
            "graine": draw.seed, "ordre": fingerprint(order),
        },
    )  # fmt: skip


def _settle(
    session: Session,
    ctx: EngineContext,
    candidate: Candidate,
    course: Course,
    draw: CourseDraw,
    rank: int,
    waiting_before: int,
    actor_id: int | None,
) -> None:
    how = "Tirage au sort" if draw.lottery else "Attribution des places"
    heading = f"{how} du cours {course.name}, saison {draw.season}"
    if rank < draw.places:
        motif = f"{heading} : une place est attribuée à votre enfant ({course.where})."
        data = {"attribution": "place", "motif": motif}
    else:
        position = waiting_before + rank - draw.places + 1
        data = {"attribution": "attente"}
        message = (
            f"{heading} : votre enfant est n° {position} sur la liste d'attente. Une place "
            "lui sera attribuée dès qu'une se libère, dans l'ordre de la liste."
        )
        record_event(session, ctx, candidate.demande, actor_id, "agent_message", message)
    complete_step(session, ctx, candidate, actor_id, data)


def complete_step(
    session: Session,
    ctx: EngineContext,
    candidate: Candidate,
    actor_id: int | None,
    data: dict[str, str],
) -> None:
    """Complete the candidate's task with `data` in the caller's transaction."""
    demande, task = candidate.demande, candidate.task
    now = ctx.clock.now()
    store_worked_time(session, ctx.calendar, task, now)
    task.state, task.completed_at, task.completed_by = TaskState.DONE, now, actor_id
    if demande.status is DemandeStatus.DEPOSEE:
        set_status(session, ctx, demande, DemandeStatus.EN_INSTRUCTION, actor_id, "claimed")
    record_event(session, ctx, demande, actor_id, "task_completed", task_id=task.id)
    spiff_id = task.spiff_task_id
    step(session, ctx, demande, lambda workflow: engine.complete(workflow, spiff_id, data))


def promote(
    session: Session, ctx: EngineContext, course_code: str, season: str, actor_id: int | None
) -> list[Demande]:
    """Give the course's free places to the first of its waiting list, in drawn order (in
    the caller's transaction); the demandes that got one."""
    course = known_course(course_code)
    free = free_places(session, course, season)
    if free == 0:
        return []
    waiting = {c.demande.id: c for c in waiting_at(session, WAITING_STEP, course.code, season)}
    ranked = [
        demande_id
        for draw in draws_of(session, course.code, season)
        for demande_id in order_of(draw)
        if demande_id in waiting
    ]
    motif = (
        f"Une place s'est libérée au cours {course.name} : elle est attribuée à votre "
        f"enfant, premier de la liste d'attente ({course.where})."
    )
    chosen = [waiting[demande_id] for demande_id in ranked[:free]]
    for candidate in chosen:
        complete_step(session, ctx, candidate, actor_id, {"attribution": "place", "motif": motif})
    return [candidate.demande for candidate in chosen]


def withdraw(
    session: Session, ctx: EngineContext, demande_id: int, actor_id: int | None, reason: str
) -> list[Demande]:
    """Record that a family gave up its place (désistement): the demande is cancelled, the
    place goes to the next of the waiting list; commit, and return the demandes promoted."""
    demande = session.get(Demande, demande_id)
    if demande is None or demande.version.code != PROCEDURE:
        raise InvalidTransition(f"demande {demande_id} is not a course registration")
    if demande.status is not DemandeStatus.ACCEPTEE:
        raise InvalidTransition(f"demande {demande_id} holds no place")
    comment = reason.strip() or "Désistement : la place est rendue."
    with all_or_nothing(session):
        set_status(session, ctx, demande, DemandeStatus.ANNULEE, actor_id, "withdrawn", comment)
        journal.record(
            session, ctx.clock, "desistement_cours", foyer_id=demande.foyer_id,
            actor_id=actor_id, demande_id=demande.id, details={"cours": course_of(demande)},
        )  # fmt: skip
        promoted = promote(session, ctx, course_of(demande), season_for(demande), actor_id)
        session.commit()
    return promoted


def close_waiting_list(
    session: Session, ctx: EngineContext, course_code: str, season: str, actor_id: int | None
) -> int:
    """End the season's waiting list of a course: each demande still on it is closed without
    a place, the family told why; commit, and return how many."""
    course = known_course(course_code)
    waiting = waiting_at(session, WAITING_STEP, course.code, season)
    motif = (
        f"La liste d'attente du cours {course.name} pour la saison {season} est close : "
        "aucune place ne s'est libérée pour votre enfant. Vous pourrez refaire une demande "
        "pour la saison prochaine."
    )
    with all_or_nothing(session):
        for candidate in waiting:
            data = {"attribution": "close", "motif": motif}
            complete_step(session, ctx, candidate, actor_id, data)
        session.commit()
    return len(waiting)
