"""What the service sees of its courses for a season: places, demandes waiting for the
allocation or on the list, and the allocations made (the agents' « Tirages au sort » page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Service
from procedures.catalogue import current_version, definition_of
from procedures.lottery.places import (
    ALLOCATION_STEP,
    PROCEDURE,
    WAITING_STEP,
    draws_of,
    placed,
    waiting_at,
)
from procedures.models import CourseDraw, Demande
from procedures.operations.ecole import Course, read_courses, season_label, season_of


@dataclass(frozen=True)
class CourseBoard:
    course: Course
    season: str
    placed: list[Demande]  # the accepted demandes: the places taken
    to_allocate: int  # demandes waiting for the allocation
    waiting: int  # demandes on the waiting list
    draws: list[CourseDraw]

    @property
    def free(self) -> int:
        return max(0, self.course.places - len(self.placed))


def current_season(today: date) -> str:
    """The season registrations filed today are for."""
    return season_label(season_of(today))


def handling_service(session: Session) -> int | None:
    """The service whose lane holds the allocation step (None: not published)."""
    version = current_version(session, PROCEDURE, required=False)
    if version is None:
        return None
    codes = list(definition_of(version).lanes.values())
    return session.scalar(select(Service.id).where(Service.code.in_(codes)).limit(1))


def board(session: Session, season: str) -> list[CourseBoard]:
    """Each course of the courses file, as it stands for the season."""
    return [
        CourseBoard(
            course=course,
            season=season,
            placed=placed(session, course.code, season),
            to_allocate=len(waiting_at(session, ALLOCATION_STEP, course.code, season)),
            waiting=len(waiting_at(session, WAITING_STEP, course.code, season)),
            draws=draws_of(session, course.code, season),
        )
        for course in read_courses().values()
    ]
