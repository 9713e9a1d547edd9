"""Counter mode: an agent finds a family, acts for it through its pages, on record."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from accounts import activation
from accounts.models import Account, Role
from coffre.clock import FrozenClock
from coffre.models import Channel, Document, Foyer, FoyerMember, JournalEntry, MemberRole
from demo.seed import demo_pdf
from notifications.models import OutboxMessage
from procedures.models import Demande, DemandeEvent, DemandeStatus
from reservations import activities
from reservations.models import BookingEvent
from reservations.models import Channel as BookingChannel
from tests.factories import make_account, make_agent, make_service, page_text
from tests.reservations.test_bookings import make_activity, open_days
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token, log_in
from tests.web.conftest import deposit
from tests.web.famille.test_demandes import (  # noqa: F401  (fixtures)
    fill,
    petite_enfance,
    post,
    published,
    start,
)
from web.runtime import runtime

BANNER = "Vous agissez pour le foyer « Famille Lefèvre »"


@pytest.fixture
def foyer(db_session: Session, clock: FrozenClock) -> Foyer:
    foyer = Foyer(label="Famille Lefèvre", city="Bellerive", created_at=clock.now())
    foyer.members = [
        FoyerMember(role=MemberRole.ADULTE, first_name="Hélène", last_name="Lefèvre"),
        FoyerMember(
            role=MemberRole.ENFANT, first_name="Léa", last_name="Lefèvre",
            birth_date=date(2025, 3, 2),
        ),
    ]  # fmt: skip
    db_session.add(foyer)
    db_session.commit()
    return foyer


@pytest.fixture
def parent(db_session: Session, clock: FrozenClock, foyer: Foyer) -> Account:
    return make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id)


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock) -> Account:
    """An agent of a service that runs the town's counter."""
    return make_agent(db_session, clock, make_service(db_session, runs_counter=True))


@pytest.fixture
def agent_client(client: FlaskClient, agent: Account) -> FlaskClient:
    assert sign_in_agent(client, agent).status_code == 302
    return client


def open_counter(client: FlaskClient, foyer_id: int, informed: bool = True) -> TestResponse:
    data = {"csrf_token": csrf_token(client, "/agent/guichet"), "q": "lefevre"}
    if informed:
        data["informed"] = "y"
    return client.post(f"/agent/guichet/{foyer_id}/ouvrir", data=data)


def leave_counter(client: FlaskClient) -> TestResponse:
    token = csrf_token(client, "/agent/guichet")
    return client.post("/agent/guichet/quitter", data={"csrf_token": token})


def journal(db_session: Session, foyer_id: int) -> list[JournalEntry]:
    db_session.expire_all()
    query = select(JournalEntry).where(JournalEntry.foyer_id == foyer_id)
    return list(db_session.scalars(query.order_by(JournalEntry.seq)))


def counter_mails(db_session: Session) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.template == "guichet_acte")
    return list(db_session.scalars(query.order_by(OutboxMessage.id)))


def add_tax_notice(client: FlaskClient) -> TestResponse:
    """Add a tax notice through the family's vault page (the family's, or the counter's)."""
    data = {
        "csrf_token": csrf_token(client, "/famille/"),
        "type_code": "avis_imposition",
        "member_id": "",
        "issued_on": "2026-04-15",
        "fichier": (io.BytesIO(demo_pdf("avis.pdf")), "avis.pdf"),
    }
    return client.post("/famille/coffre/ajouter", data=data)


def only_document(db_session: Session, foyer_id: int) -> Document:
    db_session.expire_all()
    return db_session.scalars(select(Document).where(Document.foyer_id == foyer_id)).one()


# --- search ---------------------------------------------------------------------------------


def test_search_finds_a_family_by_name_child_or_family_code_whatever_the_accents(
    agent_client: FlaskClient, db_session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    other = Foyer(label="Famille Martin", created_at=clock.now())
    other.members = [FoyerMember(role=MemberRole.ADULTE, first_name="Paul", last_name="Martin")]
    db_session.add(other)
    db_session.commit()
    code, _one_time = activation.issue_family_code(db_session, clock, foyer.id)

    for text in ("LEFEVRE", "léa lefèvre", "helene", code.lower(), code.replace("-", "")):
        page = page_text(agent_client.get("/agent/guichet", query_string={"q": text}))
        assert "Famille Lefèvre" in page, text
        assert "Famille Martin" not in page, text
        assert "Léa Lefèvre" in page and "Pas encore de compte en ligne" in page

    nothing = page_text(agent_client.get("/agent/guichet", query_string={"q": "lea martin"}))
    assert "Aucun foyer ne correspond à cette recherche." in nothing


def test_search_leaves_out_deleted_households(
    app: Flask, agent_client: FlaskClient, db_session: Session, foyer: Foyer, parent: Account
) -> None:
    runtime(app).vault.shred_foyer(db_session, foyer.id, parent.id)

    page = page_text(agent_client.get("/agent/guichet", query_string={"q": "hélène"}))

    assert "Aucun foyer ne correspond à cette recherche." in page
    assert open_counter(agent_client, foyer.id).status_code == 404


# --- opening, banner, leaving ----------------------------------------------------------------


def test_opening_needs_the_family_agreement_then_shows_the_banner_on_every_page(
    agent_client: FlaskClient, db_session: Session, agent: Account, foyer: Foyer
) -> None:
    refused = open_counter(agent_client, foyer.id, informed=False)
    assert refused.status_code == 400
    assert "Confirmez que la famille est d'accord" in page_text(refused)
    assert agent_client.get("/famille/").status_code == 403

    opened = open_counter(agent_client, foyer.id)

    assert opened.status_code == 303 and opened.headers["Location"] == "/famille/"
    for path in ("/famille/", "/famille/coffre", "/famille/foyer", "/agent/guichet"):
        response = agent_client.get(path)
        assert response.status_code == 200, path
        assert BANNER in page_text(response), path
        assert "Quitter le mode guichet" in page_text(response), path
    assert "Léa" in page_text(agent_client.get("/famille/foyer"))
    home = page_text(agent_client.get("/famille/"))
    assert f"L'espace du foyer « {foyer.label} », ouvert au guichet." in home
    assert f"Bonjour {agent.display_name}" not in home
    entry = journal(db_session, foyer.id)[-1]
    assert (entry.event, entry.actor_id) == ("guichet.opened", agent.id)


def test_leaving_counter_mode_ends_access_to_the_family_pages(
    agent_client: FlaskClient, db_session: Session, agent: Account, foyer: Foyer
) -> None:
    open_counter(agent_client, foyer.id)

    left = leave_counter(agent_client)

    assert left.status_code == 303
    assert agent_client.get("/famille/").status_code == 403
    assert agent_client.get("/famille/coffre").status_code == 403
    assert BANNER not in page_text(agent_client.get("/agent/guichet"))
    events = [(e.event, e.actor_id) for e in journal(db_session, foyer.id)]
    assert events[-2:] == [("guichet.opened", agent.id), ("guichet.closed", agent.id)]


def test_logging_out_ends_counter_mode(
    agent_client: FlaskClient, db_session: Session, agent: Account, foyer: Foyer
) -> None:
    open_counter(agent_client, foyer.id)

    agent_client.post("/deconnexion", data={"csrf_token": csrf_token(agent_client, "/famille/")})
    assert sign_in_agent(agent_client, agent).status_code == 302

    assert agent_client.get("/famille/").status_code == 403
    assert journal(db_session, foyer.id)[-1].event == "guichet.closed"


def test_an_agent_without_counter_mode_cannot_use_the_family_pages(
    agent_client: FlaskClient, foyer: Foyer
) -> None:
    for path in ("/famille/", "/famille/coffre", "/famille/foyer", "/famille/demandes"):
        assert agent_client.get(path).status_code == 403, path


def test_a_family_account_cannot_open_counter_mode(
    client: FlaskClient, parent: Account, foyer: Foyer, db_session: Session, clock: FrozenClock
) -> None:
    other = make_account(db_session, clock, Role.FAMILLE)
    assert log_in(client, parent.email).status_code == 302

    assert client.get("/agent/guichet").status_code == 403
    token = csrf_token(client, "/famille/")
    response = client.post(
        f"/agent/guichet/{other.foyer_id}/ouvrir", data={"csrf_token": token, "informed": "y"}
    )

    assert response.status_code == 403
    assert "Vous agissez pour le foyer" not in page_text(client.get("/famille/"))


def test_pages_of_the_family_login_are_refused_in_counter_mode(
    agent_client: FlaskClient, db_session: Session, foyer: Foyer
) -> None:
    open_counter(agent_client, foyer.id)

    for path in ("/famille/mot-de-passe", "/famille/foyer/inviter", "/famille/compte/supprimer"):
        assert agent_client.get(path).status_code == 403, path
    token = csrf_token(agent_client, "/famille/")
    deleted = agent_client.post(
        "/famille/compte/supprimer", data={"csrf_token": token, "confirmation": "SUPPRIMER"}
    )

    assert deleted.status_code == 403
    db_session.expire_all()
    assert db_session.get_one(Foyer, foyer.id).shredded_at is None


# --- acts on behalf of the family -------------------------------------------------------------


def test_a_paper_scanned_at_the_counter_is_recorded_as_such_and_told_to_the_family(
    agent_client: FlaskClient, db_session: Session, agent: Account, foyer: Foyer, parent: Account
) -> None:
    open_counter(agent_client, foyer.id)

    response = add_tax_notice(agent_client)

    assert response.status_code == 303
    document = only_document(db_session, foyer.id)
    assert document.channel is Channel.GUICHET and document.deposited_by == agent.id
    deposited, act = journal(db_session, foyer.id)[-2:]
    assert (deposited.event, deposited.actor_id) == ("document.deposited", agent.id)
    assert json.loads(deposited.details)["channel"] == "guichet"
    assert (act.event, act.actor_id) == ("guichet.act", agent.id)
    [mail] = counter_mails(db_session)
    assert mail.recipient == parent.email
    assert mail.idempotency_key == f"guichet:{act.id}:{parent.id}"
    context = json.loads(mail.context)
    assert context["agent"] == agent.display_name
    assert (
        context["operations"]
        == "- dépôt du justificatif « Avis d'imposition » dans votre coffre-fort"
    )


def test_an_agent_starts_and_submits_a_creche_demande_for_the_family(
    app: Flask,
    agent_client: FlaskClient,
    db_session: Session,
    agent: Account,
    foyer: Foyer,
    parent: Account,
    published: None,  # noqa: F811
) -> None:
    child = next(m for m in foyer.members if m.role is MemberRole.ENFANT)
    papers = [
        deposit(app, db_session, foyer.id, "justificatif_domicile", issued_on=date(2026, 8, 1)),
        deposit(app, db_session, foyer.id, "avis_imposition", issued_on=date(2026, 4, 15)),
        deposit(
            app, db_session, foyer.id, "carnet_vaccination",
            issued_on=date(2025, 1, 10), member_id=child.id,
        ),
    ]  # fmt: skip
    open_counter(agent_client, foyer.id)

    demande_id = start(agent_client)
    fill(agent_client, demande_id, child, [d.id for d in papers])
    response = post(agent_client, f"/famille/demandes/{demande_id}/deposer")

    assert response.status_code == 303  # type: ignore[attr-defined]
    db_session.expire_all()
    demande = db_session.get_one(Demande, demande_id)
    assert demande.status is DemandeStatus.DEPOSEE and demande.created_by == agent.id
    submitted = db_session.scalars(
        select(DemandeEvent).where(
            DemandeEvent.demande_id == demande_id, DemandeEvent.kind == "submitted"
        )
    ).one()
    assert submitted.actor_id == agent.id
    granted = [e for e in journal(db_session, foyer.id) if e.event == "consent.granted"]
    assert {e.actor_id for e in granted} == {agent.id} and len(granted) == 3
    operations = [json.loads(m.context)["operations"] for m in counter_mails(db_session)]
    assert operations == [
        f"- envoi de la demande « Pré-inscription en crèche » (référence {demande.number})"
    ]
    family_page = page_text(agent_client.get(f"/famille/demandes/{demande_id}"))
    assert demande.number is not None and demande.number in family_page


def test_a_household_change_at_the_counter_is_told_to_the_family(
    agent_client: FlaskClient, db_session: Session, foyer: Foyer, parent: Account
) -> None:
    open_counter(agent_client, foyer.id)

    response = post(
        agent_client,
        "/famille/foyer/adresse",
        {
            "adresse-address_line": "3 rue des Lilas",
            "adresse-postal_code": "33000",
            "adresse-city": "Bellerive",
        },
    )

    assert response.status_code == 302  # type: ignore[attr-defined]
    db_session.expire_all()
    assert db_session.get_one(Foyer, foyer.id).address_line == "3 rue des Lilas"
    [mail] = counter_mails(db_session)
    assert "mise à jour de votre dossier famille" in json.loads(mail.context)["operations"]


def test_the_family_own_deposit_stays_online_and_sends_no_counter_mail(
    client: FlaskClient, db_session: Session, parent: Account, foyer: Foyer
) -> None:
    assert log_in(client, parent.email).status_code == 302

    response = add_tax_notice(client)

    assert response.status_code == 303
    document = only_document(db_session, foyer.id)
    assert document.channel is Channel.EN_LIGNE and document.deposited_by == parent.id
    assert counter_mails(db_session) == []


# --- a family that has no space yet ----------------------------------------------------------


def test_a_household_created_at_the_counter_gets_codes_the_parent_activates_with(
    agent_client: FlaskClient, db_session: Session, clock: FrozenClock, agent: Account
) -> None:
    token = csrf_token(agent_client, "/agent/guichet/nouveau-foyer")
    data = {"csrf_token": token, "first_name": "Inès", "last_name": "Benoît"}
    assert agent_client.post("/agent/guichet/nouveau-foyer", data=data).status_code == 400

    response = agent_client.post("/agent/guichet/nouveau-foyer", data={**data, "informed": "y"})

    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    page = page_text(response)
    family_code = page.split("data-code-famille>")[1].split("<")[0]
    one_time_code = page.split("data-code-unique>")[1].split("<")[0]
    account = activation.activate_with_code(
        db_session, clock, family_code=family_code, one_time_code=one_time_code,
        email="ines.benoit@test.example", password="un mot de passe solide 2026", link="/",
    )  # fmt: skip
    foyer = db_session.get_one(Foyer, account.foyer_id)
    assert foyer.label == "Foyer Inès Benoît"
    entry = journal(db_session, foyer.id)[0]
    assert (entry.event, entry.actor_id) == ("guichet.foyer_created", agent.id)
    found = page_text(agent_client.get("/agent/guichet", query_string={"q": "ines benoit"}))
    assert "Foyer Inès Benoît" in found and "A un compte en ligne" in found


def test_a_day_booked_at_the_counter_is_journaled_as_such(
    agent_client: FlaskClient, agent: Account, foyer: Foyer, db_session: Session, clock: FrozenClock
) -> None:
    activity = make_activity(db_session, make_service(db_session))
    monday = date(2026, 9, 14)
    slot = open_days(db_session, activity, monday, monday)[monday]
    lea = next(m.id for m in foyer.members if m.role is MemberRole.ENFANT)
    activities.enrol(db_session, clock, activity.id, lea, monday, monday)
    db_session.commit()
    assert open_counter(agent_client, foyer.id).status_code == 303

    token = csrf_token(agent_client, "/famille/reservations?semaine=2026-09-14")
    fields = {"action": "reserver", "enfant": lea, "seance": slot, "semaine": "2026-09-14"}
    response = agent_client.post("/famille/reservations", data={"csrf_token": token, **fields})

    assert response.status_code == 303
    event = db_session.scalars(select(BookingEvent)).one()
    assert (event.channel, event.account_id) == (BookingChannel.GUICHET, agent.id)
