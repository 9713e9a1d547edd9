"""Renewing last year's registration from the procedures page, in a few clicks."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import Account
from coffre.clock import FrozenClock
from coffre.models import Foyer, FoyerMember, MemberRole
from procedures import demandes
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.models import Demande
from tests.factories import make_service, page_text
from tests.procedures.flows import agent_of, publish, work
from tests.web.auth.test_login import csrf_token
from tests.web.conftest import deposit
from web.runtime import runtime


def test_a_family_renews_last_years_registration_from_the_procedures_page(
    app: Flask,
    family_client: FlaskClient,
    family: Account,
    db_session: Session,
    clock: FrozenClock,
) -> None:
    assert family.foyer_id is not None
    foyer = db_session.get(Foyer, family.foyer_id)
    assert foyer is not None
    zoe = FoyerMember(role=MemberRole.ENFANT, first_name="Zoé", last_name="Test")
    foyer.members.append(zoe)
    db_session.flush()
    service = make_service(db_session, code="scolaire")
    publish(db_session, clock, "periscolaire")
    papers = [
        deposit(
            app, db_session, family.foyer_id, "attestation_assurance", issued_on=date(2026, 8, 1)
        ),
        deposit(app, db_session, family.foyer_id, "carnet_vaccination", member_id=zoe.id),
    ]
    flow = EngineContext(clock=clock, vault=runtime(app).vault)
    actor = FamilyActor(family.id, family.foyer_id)
    draft = demandes.create_draft(db_session, flow, actor, "periscolaire")
    answers = {"enfant": str(zoe.id), "cantine": "on"}
    sent = demandes.submit(db_session, flow, actor, draft.id, answers, [p.id for p in papers])
    last_year = work(
        db_session, flow, agent_of(db_session, clock, service), sent, {"decision": "valider"}
    )
    assert "Renouveler" not in page_text(family_client.get("/famille/demarches"))
    assert "Renouvelez vos inscriptions" not in page_text(family_client.get("/famille/"))

    clock.current = datetime(2027, 6, 1, 8, 0, tzinfo=UTC)
    home = page_text(family_client.get("/famille/"))  # where the family lands: told at once
    assert "Renouvelez vos inscriptions pour la prochaine année scolaire" in home
    assert (
        "1 inscription de l'an dernier peut être renouvelée en quelques clics : "
        "Inscription périscolaire et restauration." in home
    )
    assert 'href="/famille/demarches#renouvellements"' in home
    page = page_text(family_client.get("/famille/demarches"))
    assert "Renouveler pour la prochaine année scolaire" in page
    assert "Renouveler : Inscription périscolaire et restauration, Zoé" in page
    token = csrf_token(family_client, "/famille/demarches")
    address = f"/famille/demandes/{last_year.id}/renouveler"
    first = family_client.post(address, data={"csrf_token": token})
    again = family_client.post(address, data={"csrf_token": token})  # a double click

    renewal = db_session.scalars(select(Demande).where(Demande.id != last_year.id)).one()
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"].endswith(f"/famille/demandes/{renewal.id}/formulaire")
    form = family_client.get(first.headers["Location"]).get_data(as_text=True)
    assert re.search(r'name="cantine" value="oui" checked', form)
    assert not re.search(r'name="garderie_soir" value="oui" checked', form)
    # Only this year's insurance runs out in August: the vaccinations are ticked, not it.
    documents = family_client.get(f"/famille/demandes/{renewal.id}/justificatifs")
    ticked = re.findall(r'name="partage" value="(\d+)"\s+checked', documents.get_data(as_text=True))
    assert ticked == [str(papers[1].id)]
    assert (
        family_client.post(
            "/famille/demandes/999999/renouveler", data={"csrf_token": token}
        ).status_code
        == 404
    )
    assert db_session.scalar(select(func.count(Demande.id))) == 2
