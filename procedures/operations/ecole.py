"""The municipal sports school and conservatoire (école municipale): its courses and ages.

The service keeps its courses in `workflows_bpmn/ecole_municipale_cours.toml`: each with its
code, name, ages (in full years on the first day of the season) and places. `etudier_cours`
reads the course chosen on the form and the child's birth date in the foyer's file and says
whether the child is of an age for it; the diagram's decision table (`ecole_municipale.dmn`)
refuses at once a child who is not. The places are allocated later, for the whole course at
once (`procedures.lottery`).

The file is read at each demande, so the service's edits apply without a restart.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from coffre.clock import PARIS
from procedures.operations.context import Operation, OperationContext, OperationError, child_of

COURSES_FILE = (
    Path(__file__).resolve().parents[2] / "workflows_bpmn" / "ecole_municipale_cours.toml"
)
SEASON_START = (9, 1)  # the courses' season starts on 1 September, as the TOML's season_start


@dataclass(frozen=True)
class Course:
    code: str
    name: str
    discipline: str  # "sport" or "culture"
    min_age: int
    max_age: int
    places: int
    where: str


def age_on(birth_date: date, day: date) -> int:
    """Age in full years on `day`."""
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - before_birthday


def season_of(day: date) -> date:
    """The start of the season a registration filed on `day` is for (the next 1 September,
    or `day` itself when it is one)."""
    start = date(day.year, *SEASON_START)
    return start if start >= day else date(day.year + 1, *SEASON_START)


def season_label(start: date) -> str:
    """« 2027-2028 » for the season starting in September 2027."""
    return f"{start.year}-{start.year + 1}"


def parse_courses(text: str) -> Mapping[str, Course]:
    """Read the courses file; OperationError naming every problem in it."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OperationError(f"cours illisibles : {exc}") from None
    entries = raw.get("cours", [])
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise OperationError("cours : « cours » doit être une liste de tables [[cours]]")
    problems: list[str] = []
    courses: dict[str, Course] = {}
    for entry in entries:
        course = _course(entry, problems)
        if course is not None and course.code in courses:
            problems.append(f"le cours « {course.code} » figure deux fois")
        elif course is not None:
            courses[course.code] = course
    if problems:
        raise OperationError("cours : " + " ; ".join(problems))
    return courses


def _course(entry: Mapping[str, Any], problems: list[str]) -> Course | None:
    code, name = str(entry.get("code", "")).strip(), str(entry.get("nom", "")).strip()
    numbers = [entry.get(key) for key in ("age_min", "age_max", "places")]
    if not code or not name:
        problems.append(f"cours « {code or name or '?'} » : un « code » et un « nom » attendus")
        return None
    ints = [n for n in numbers if isinstance(n, int) and not isinstance(n, bool) and n >= 0]
    if len(ints) != len(numbers) or ints[0] > ints[1]:
        problems.append(f"{code} : « age_min » ≤ « age_max » et « places » sont des entiers")
        return None
    min_age, max_age, places = ints
    return Course(
        code, name, str(entry.get("discipline", "")), min_age, max_age, places,
        str(entry.get("lieu", "")),
    )  # fmt: skip


def read_courses(path: Path | None = None) -> Mapping[str, Course]:
    """The courses as their file says now."""
    try:
        return parse_courses((path or COURSES_FILE).read_text(encoding="utf-8"))
    except OSError as exc:
        raise OperationError(f"cours introuvables ({exc.strerror})") from None


def study_course(context: OperationContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """What the decision table needs: the course chosen, the season, the child's age on its
    first day and whether the course takes that age."""
    course = read_courses().get(str(context.data.get("cours", "")))
    if course is None:
        raise OperationError(f"unknown course {context.data.get('cours')!r}")
    child = child_of(context)
    sent = context.demande.submitted_at or context.clock.now()
    start = season_of(sent.astimezone(PARIS).date())
    age = age_on(child.birth_date, start) if child.birth_date else None
    return {
        "cours": course.code,
        "nom": course.name,
        "saison": season_label(start),
        "age": age,
        "age_ok": age is not None and course.min_age <= age <= course.max_age,
    }


ECOLE_OPERATIONS: Mapping[str, Operation] = {"etudier_cours": study_course}
