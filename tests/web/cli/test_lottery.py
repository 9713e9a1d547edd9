"""`flask procedures tirage COURS --graine VALEUR`: the course's places allocated from the
command line, what was done printed; a bad course, season or missing value refused with a
French line and a non-zero exit, nothing drawn."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coffre.clock import FrozenClock
from procedures.history import EngineContext
from procedures.lottery.draws import draw_seed, drawn_order
from procedures.models import CourseDraw, Demande, DemandeStatus
from tests.factories import make_service
from tests.procedures.flows import publish
from tests.procedures.lottery.test_ecole_municipale import registered

PUBLISHED = "12 27 33 41"
SEASON = "2026-2027"  # the test clock stands on 1 September 2026


@pytest.fixture
def piano(db_session: Session, clock: FrozenClock, ctx: EngineContext) -> list[int]:
    """Five registrations for piano's four places."""
    make_service(db_session, code="sports-culture")
    publish(db_session, clock, "ecole_municipale")
    return [registered(db_session, ctx, clock, f"F{n}").id for n in range(5)]


def tirage(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["procedures", "tirage", *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def draws(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(CourseDraw)) or 0


def test_the_command_draws_an_over_subscribed_course_and_prints_it(
    app: Flask, db_session: Session, piano: list[int]
) -> None:
    code, output = tirage(app, "piano", "--graine", PUBLISHED)

    assert code == 0, output
    seed = draw_seed("piano", SEASON, PUBLISHED)
    order = drawn_order(piano, seed)
    assert f"piano {SEASON} : 4 place(s), tirage au sort (graine {seed})" in output
    assert f"ordre (demandes) : {' '.join(map(str, order))}" in output
    db_session.expire_all()
    statuses = [db_session.get_one(Demande, demande_id).status for demande_id in order]
    assert statuses == [DemandeStatus.ACCEPTEE] * 4 + [DemandeStatus.EN_INSTRUCTION]
    again, refused = tirage(app, "piano", "--graine", PUBLISHED)
    assert again == 1 and "aucune demande de ce cours n'attend de place" in refused
    assert draws(db_session) == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("violon", "--graine", PUBLISHED), "cours inconnu « violon » (cours connus : "),
        (("piano", "--saison", "2026", "--graine", PUBLISHED), "saison illisible « 2026 »"),
        (("piano",), "Saisissez la valeur publiée qui sert de graine au tirage au sort."),
    ],
)
def test_a_bad_course_season_or_missing_value_is_refused_and_nothing_drawn(
    app: Flask, db_session: Session, piano: list[int], args: tuple[str, ...], expected: str
) -> None:
    code, output = tirage(app, *args)

    assert code != 0
    assert expected in output
    assert draws(db_session) == 0
    db_session.expire_all()
    assert all(db_session.get_one(Demande, i).status is DemandeStatus.DEPOSEE for i in piano)
