"""What an agent reads of a document's 2D-Doc, through HTTP: authentic with its fields and the
quotient pre-filled, flagged when it does not verify, nothing when there is none."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from accounts.models import Account, Role, Service
from coffre.clock import FrozenClock
from coffre.inspection.two_d_doc import TrustList, load_trust_list
from coffre.models import Document, Foyer, FoyerMember, MemberRole, TwoDDocState
from coffre.upkeep import authenticity
from procedures import demandes
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from tests.factories import make_account, make_agent, make_service, page_text
from tests.procedures.flows import publish
from tests.two_d_doc import make_authority, message, own_authority, pdf, sign
from tests.web.agents import sign_in_agent
from tests.web.conftest import deposit
from web.runtime import runtime
from web.settings import load_settings


@pytest.fixture
def trust(tmp_path: Path) -> TrustList:
    """The test authority's trust store, taken from the configuration as the worker does."""
    directory = own_authority().write(tmp_path / "2d-doc")
    settings = load_settings({"ENV": "test", "TWODDOC_TRUST_STORE": str(directory)})
    assert settings.two_d_doc_trust_store == directory
    return load_trust_list(settings.two_d_doc_trust_store)


@pytest.fixture
def agent_client(client: FlaskClient, db_session: Session, clock: FrozenClock) -> FlaskClient:
    service: Service = make_service(db_session, code="petite-enfance")
    agent: Account = make_agent(db_session, clock, service)
    assert sign_in_agent(client, agent).status_code == 302
    return client


def notice_page(
    app: Flask, db_session: Session, clock: FrozenClock, trust: TrustList, content: bytes
) -> str:
    """The agent's page of a tax notice sent with a crèche demande, once the worker read it."""
    publish(db_session, clock, "creche")
    family = make_account(db_session, clock, Role.FAMILLE)
    foyer = db_session.get(Foyer, family.foyer_id)
    assert foyer is not None
    child = FoyerMember(role=MemberRole.ENFANT, first_name="Léa", last_name="Lambert")
    foyer.members.append(child)
    db_session.commit()
    others = [
        deposit(app, db_session, foyer.id, "justificatif_domicile"),
        deposit(app, db_session, foyer.id, "carnet_vaccination", member_id=child.id),
    ]
    for other in others:  # plain demo PDFs: spare the test libdmtx's time on them
        other.two_d_doc_state = TwoDDocState.NONE
    income = deposit(
        app, db_session, foyer.id, "avis_imposition", issued_on=date(2026, 7, 31),
        filename="avis.pdf", content=content,
    )  # fmt: skip
    ctx = EngineContext(clock=clock, vault=runtime(app).vault)
    actor = FamilyActor(family.id, foyer.id)
    draft = demandes.create_draft(db_session, ctx, actor, "creche")
    form = {"enfant": str(child.id), "date_entree": "2027-01-04", "jours": "4"}
    ids = [others[0].id, income.id, others[1].id]
    demande = demandes.submit(db_session, ctx, actor, draft.id, form, ids)
    assert authenticity.read_pending(db_session, runtime(app).vault, trust) == 1
    return f"/agent/demandes/{demande.id}/documents/{income.id}"


def test_an_authentic_notice_shows_its_fields_and_prefills_the_quotient(
    app: Flask, agent_client: FlaskClient, db_session: Session, clock: FrozenClock, trust: TrustList
) -> None:
    path = notice_page(app, db_session, clock, trust, pdf(sign(message(), own_authority().key)))

    response = agent_client.get(path)

    assert response.status_code == 200
    page = page_text(response)
    assert "authentique" in page and "2D-Doc signé par l'émetteur" in page
    assert "Avis d'impôt sur le revenu : sa signature a été vérifiée" in page
    for label, value in [
        ("Revenu fiscal de référence", "23456"),
        ("Nombre de parts", "2,5"),
        ("Déclarant 1", "MARTIN CLAIRE"),
        ("Adresse", "12 RUE DES LILAS 69001 LYON"),
        ("Date de mise en recouvrement", "31072026"),
    ]:
        assert f"<dt>{label}</dt><dd>{value}</dd>" in page
    assert 'name="quotient" inputmode="numeric" pattern="[0-9]*" value="782"' in page
    assert "Prérempli d'après le 2D-Doc" in page
    assert "2D-Doc non valide" not in page


def test_a_forged_notice_is_flagged_and_nothing_is_prefilled(
    app: Flask, agent_client: FlaskClient, db_session: Session, clock: FrozenClock, trust: TrustList
) -> None:
    forged = sign(message(), make_authority().key)
    path = notice_page(app, db_session, clock, trust, pdf(forged))

    page = page_text(agent_client.get(path))

    assert "2D-Doc non valide : sa signature ne correspond pas à son contenu" in page
    assert "authentique" not in page and "MARTIN" not in page and 'value="782"' not in page


def test_a_notice_signed_by_a_key_the_trust_list_lacks_is_not_verified_and_not_prefilled(
    app: Flask, agent_client: FlaskClient, db_session: Session, clock: FrozenClock, trust: TrustList
) -> None:
    """A genuine notice whose issuer's signing certificate the town has not added yet."""
    unknown = sign(message().replace("DC04FR000001", "DC04FR000002"), own_authority().key)
    path = notice_page(app, db_session, clock, trust, pdf(unknown))

    page = page_text(agent_client.get(path))

    assert (
        "2D-Doc non vérifié : son certificat de signature n'est pas dans la liste de confiance"
        in page
    )
    assert "il ne prouve rien, ni dans un sens ni dans l'autre" in page
    assert "2D-Doc non valide" not in page and "authentique" not in page
    assert "MARTIN" not in page and 'value="782"' not in page


def test_a_notice_without_2d_doc_shows_nothing_special(
    app: Flask, agent_client: FlaskClient, db_session: Session, clock: FrozenClock, trust: TrustList
) -> None:
    path = notice_page(app, db_session, clock, trust, pdf(None))

    page = page_text(agent_client.get(path))

    assert "2D-Doc" not in page and "authentique" not in page
    assert 'name="quotient" inputmode="numeric" pattern="[0-9]*">' in page


def test_a_document_still_waiting_for_its_reading_shows_nothing() -> None:
    document = Document(two_d_doc_state=TwoDDocState.PENDING, two_d_doc_fields=None)
    assert authenticity.shown(document) is None
