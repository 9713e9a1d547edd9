"""Accepted demandes handed to the back office as files, for any procedure whose metadata asks."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from interop import handover
from procedures.models import DemandeStatus
from tests.reservations.test_registrations import Town, town  # noqa: F401  (fixture)
from worker.jobs import register_standard_jobs
from worker.loop import Worker


def test_an_accepted_registration_is_written_as_csv_with_the_childs_identity(
    town: Town,  # noqa: F811  (the fixture imported above)
    sessions: sessionmaker[Session],
) -> None:
    session, clock, store = town.session, town.clock, town.vault.store
    assert handover.export_accepted(session, clock, store) == []  # the cursor starts now
    refused = town.registered(decision="refuser")
    accepted = town.registered()
    assert accepted.status is DemandeStatus.ACCEPTEE and refused.status is DemandeStatus.REFUSEE
    clock.advance(timedelta(seconds=10))

    worker = Worker(sessions=sessions, clock=clock, name="handover")
    register_standard_jobs(worker, town.vault, None, "https://portail.bellerive.example")
    worker.tick(clock.now())

    keys = list(store.keys("back-office/periscolaire/"))
    assert keys == [f"back-office/periscolaire/{accepted.number}.csv"]
    with store.open(keys[0]) as file:
        text = file.read().decode("utf-8")
    assert text.startswith("\ufeff")  # spreadsheets read it as UTF-8
    [row] = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    child = next(m for m in town.foyer.members if m.id == town.child)
    assert (row["enfant_prenom"], row["enfant_nom"]) == (child.first_name, child.last_name)
    assert row["enfant_ecole"] == "École Jules-Ferry"
    assert row["numero"] == accepted.number and row["statut"] == "acceptee"
    assert row["courriels"]  # the family's addresses, not an id
    assert handover.export_accepted(session, clock, store) == []  # once
