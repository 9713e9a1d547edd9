"""Demande numbers under concurrency: families submitting at the same moment.

Run on a database of its own with real commits (not the suite's rolled-back transaction),
because the point is two transactions that overlap.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from coffre.clock import FrozenClock
from coffre.db import make_session_factory
from procedures import demandes
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from tests.coffre.conftest import make_foyer
from tests.factories import make_service
from tests.procedures.flows import child_of, family_of, publish

FAMILIES = 4
ROUNDS = 3


def test_simultaneous_submissions_each_get_their_own_number(own_database: Engine) -> None:
    sessions: sessionmaker[Session] = make_session_factory(own_database)
    clock = FrozenClock()
    ctx = EngineContext(clock=clock)
    with sessions() as setup:
        make_service(setup, code="accueil-mq")
        publish(setup, clock, "signalement")
        foyers = [make_foyer(setup, clock, f"Foyer {n}") for n in range(FAMILIES)]
        families = [family_of(setup, clock, foyer) for foyer in foyers]
        children = [child_of(foyer) for foyer in foyers]
        setup.commit()

    def submit(family: FamilyActor, child: int, ready: threading.Barrier) -> str | None:
        with sessions() as session:
            draft = demandes.create_draft(session, ctx, family, "signalement")
            answers = {"nature": "absence", "enfant": str(child), "date_debut": "2026-09-03"}
            ready.wait()  # every family presses "Déposer" at the same moment
            return demandes.submit(session, ctx, family, draft.id, answers, []).number

    numbers: list[str | None] = []
    with ThreadPoolExecutor(FAMILIES) as pool:
        for _ in range(ROUNDS):
            ready = threading.Barrier(FAMILIES)
            numbers += pool.map(submit, families, children, [ready] * FAMILIES)

    assert len(set(numbers)) == FAMILIES * ROUNDS
    assert all(number and number.startswith("2026-") for number in numbers)
