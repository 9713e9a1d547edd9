"""Counter mode is a supervised act for a family at the counter, not a door into any foyer.

The attack these tests replay: an agent of a partner association opened another family's
space from counter mode, printed a family code for it and used the codes to create its
own account inside that foyer, then read the family's tax notice and exported the vault,
without any adult of the foyer being told.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from accounts.models import Account, FamilyCode, JoinRequest, Role, Service
from coffre.clock import FrozenClock
from coffre.models import Document, Foyer, FoyerMember, JournalEntry, MemberRole
from notifications.models import OutboxMessage
from procedures import demandes
from procedures.history import EngineContext
from tests.factories import PASSWORD, make_account, make_agent, make_service, page_text
from tests.procedures.flows import publish
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token, log_in
from tests.web.conftest import deposit
from web.runtime import runtime

FAMILY_SPACE = "http://127.0.0.1:5000/famille/"  # BASE_URL of the test settings
NEWCOMER = "nouvel.adulte@test.example"


@pytest.fixture
def foyer(db_session: Session, clock: FrozenClock) -> Foyer:
    foyer = Foyer(label="Famille Lefèvre", city="Bellerive", created_at=clock.now())
    foyer.members = [
        FoyerMember(role=MemberRole.ADULTE, first_name="Hélène", last_name="Lefèvre"),
        FoyerMember(role=MemberRole.ENFANT, first_name="Léa", last_name="Lefèvre"),
    ]
    db_session.add(foyer)
    db_session.commit()
    return foyer


@pytest.fixture
def parents(db_session: Session, clock: FrozenClock, foyer: Foyer) -> list[Account]:
    return [make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id) for _ in "ab"]


@pytest.fixture
def tax_notice(app: Flask, db_session: Session, foyer: Foyer) -> Document:
    return deposit(app, db_session, foyer.id, "avis_imposition", issued_on=date(2026, 4, 15))


@pytest.fixture
def counter_agent(db_session: Session, clock: FrozenClock) -> Account:
    """An agent of the town's reception, a service that runs the counter."""
    return make_agent(db_session, clock, make_service(db_session, runs_counter=True))


@pytest.fixture
def partner_agent(db_session: Session, clock: FrozenClock) -> Account:
    """An agent of a partner association's service, which does not run the counter."""
    return make_agent(db_session, clock)


def signed_in(app: Flask, account: Account) -> FlaskClient:
    client = app.test_client()
    if account.role is Role.FAMILLE:
        assert log_in(client, account.email).status_code == 302
    else:
        assert sign_in_agent(client, account).status_code == 302
    return client


def counter_post(client: FlaskClient, path: str) -> TestResponse:
    token = csrf_token(client, "/agent/guichet")
    return client.post(path, data={"csrf_token": token, "informed": "y"})


def events(session: Session, foyer_id: int) -> list[tuple[str, int | None]]:
    session.expire_all()
    query = select(JournalEntry).where(JournalEntry.foyer_id == foyer_id)
    return [(e.event, e.actor_id) for e in session.scalars(query.order_by(JournalEntry.seq))]


def mails(session: Session, template: str) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.template == template)
    return list(session.scalars(query.order_by(OutboxMessage.id)))


def print_code(client: FlaskClient, foyer_id: int) -> tuple[str, str]:
    """Print a new family code at the counter; the family code and the one-time code."""
    response = counter_post(client, f"/agent/guichet/{foyer_id}/code-famille")
    assert response.status_code == 200
    page = page_text(response)
    return (
        page.split("data-code-famille>")[1].split("<")[0],
        page.split("data-code-unique>")[1].split("<")[0],
    )


def sign_up_with(
    client: FlaskClient, codes: tuple[str, str], email: str = NEWCOMER
) -> TestResponse:
    """Create an account with a printed family code and its one-time code."""
    data = {
        "family_code": codes[0],
        "one_time_code": codes[1],
        "email": email,
        "password": PASSWORD,
        "confirm": PASSWORD,
        "information": "y",
        "csrf_token": csrf_token(client, "/activation/code"),
    }
    return client.post("/activation/code", data=data)


def foyer_pages(document: Document) -> list[str]:
    return [
        "/famille/coffre",
        "/famille/coffre/export",
        f"/famille/coffre/{document.id}/fichier",
        "/famille/demandes",
        "/famille/foyer",
    ]


# --- only the entities that deal with a foyer open it ---------------------------------------


def test_a_partner_agent_can_neither_find_nor_open_nor_code_a_foyer_it_never_dealt_with(
    app: Flask,
    db_session: Session,
    partner_agent: Account,
    foyer: Foyer,
    parents: list[Account],
) -> None:
    client = signed_in(app, partner_agent)

    found = page_text(client.get("/agent/guichet", query_string={"q": "lefevre"}))
    opened = counter_post(client, f"/agent/guichet/{foyer.id}/ouvrir")
    coded = counter_post(client, f"/agent/guichet/{foyer.id}/code-famille")

    assert "Aucun foyer ne correspond à cette recherche." in found
    assert opened.status_code == coded.status_code == 404
    assert client.get("/famille/coffre").status_code == 403
    assert client.get("/agent/guichet/nouveau-foyer").status_code == 403
    assert events(db_session, foyer.id) == []
    assert db_session.scalars(select(FamilyCode)).all() == []


def test_a_partner_agent_whose_service_handles_a_demande_opens_the_foyer_but_prints_no_code(
    app: Flask, db_session: Session, clock: FrozenClock, foyer: Foyer, parents: list[Account]
) -> None:
    partner_service = make_service(db_session, code="petite-enfance")  # the crèche's lanes
    publish(db_session, clock, "creche")
    _submit_creche(app, db_session, clock, foyer, parents[0])
    colleague_service = Service(entity_id=partner_service.entity_id, code="accueil", name="Accueil")
    db_session.add(colleague_service)
    db_session.commit()
    client = signed_in(app, make_agent(db_session, clock, colleague_service))

    found = page_text(client.get("/agent/guichet", query_string={"q": "lefevre"}))
    coded = counter_post(client, f"/agent/guichet/{foyer.id}/code-famille")
    opened = counter_post(client, f"/agent/guichet/{foyer.id}/ouvrir")

    assert "Famille Lefèvre" in found and "Imprimer un nouveau code famille" not in found
    assert coded.status_code == 403
    assert opened.status_code == 303 and client.get("/famille/coffre").status_code == 200


def _submit_creche(
    app: Flask, session: Session, clock: FrozenClock, foyer: Foyer, parent: Account
) -> None:
    child = next(m for m in foyer.members if m.role is MemberRole.ENFANT)
    child.birth_date = date(2025, 3, 2)
    papers = [
        deposit(app, session, foyer.id, "justificatif_domicile"),
        deposit(app, session, foyer.id, "avis_imposition", issued_on=date(2026, 4, 15)),
        deposit(
            app, session, foyer.id, "carnet_vaccination", member_id=child.id,
            issued_on=date(2025, 1, 10),
        ),
    ]  # fmt: skip
    ctx = EngineContext(clock=clock, vault=runtime(app).vault)
    actor = demandes.FamilyActor(parent.id, foyer.id)
    draft = demandes.create_draft(session, ctx, actor, "creche")
    form = {"enfant": str(child.id), "date_entree": "2027-01-04", "jours": "4"}
    demandes.submit(session, ctx, actor, draft.id, form, [d.id for d in papers])


# --- every adult is told: opening, codes ------------------------------------------------------


def test_opening_a_foyer_at_the_counter_is_emailed_to_every_adult(
    app: Flask, db_session: Session, counter_agent: Account, foyer: Foyer, parents: list[Account]
) -> None:
    client = signed_in(app, counter_agent)

    assert counter_post(client, f"/agent/guichet/{foyer.id}/ouvrir").status_code == 303

    sent = mails(db_session, "guichet_ouverture")
    assert [m.recipient for m in sent] == [p.email for p in parents]
    context = json.loads(sent[0].context)
    assert context["agent"] == counter_agent.display_name and context["lien"] == FAMILY_SPACE
    assert events(db_session, foyer.id) == [("guichet.opened", counter_agent.id)]


def test_a_family_code_is_journaled_and_emailed_to_every_adult(
    app: Flask, db_session: Session, counter_agent: Account, foyer: Foyer, parents: list[Account]
) -> None:
    client = signed_in(app, counter_agent)

    response = counter_post(client, f"/agent/guichet/{foyer.id}/code-famille")

    assert response.status_code == 200
    assert "Ce foyer a déjà un compte en ligne" in page_text(response)
    assert events(db_session, foyer.id) == [("guichet.code_issued", counter_agent.id)]
    sent = mails(db_session, "guichet_code_famille")
    assert [m.recipient for m in sent] == [p.email for p in parents]
    assert json.loads(sent[0].context)["lien"] == FAMILY_SPACE
    assert db_session.scalars(select(FamilyCode.issued_by)).all() == [counter_agent.id]


def test_a_family_code_is_printed_only_for_a_family_confirmed_present(
    app: Flask, db_session: Session, counter_agent: Account, foyer: Foyer, parents: list[Account]
) -> None:
    client = signed_in(app, counter_agent)
    token = csrf_token(client, "/agent/guichet")

    response = client.post(f"/agent/guichet/{foyer.id}/code-famille", data={"csrf_token": token})

    assert response.status_code == 400
    assert "Confirmez que la famille est d'accord" in page_text(response)
    assert db_session.scalars(select(FamilyCode)).all() == []
    assert events(db_session, foyer.id) == []
    assert mails(db_session, "guichet_code_famille") == []


# --- a new adult of a foyer with an account waits for its adults ------------------------------


def test_a_code_for_a_foyer_with_an_account_gives_nothing_until_an_adult_accepts(
    app: Flask,
    db_session: Session,
    counter_agent: Account,
    foyer: Foyer,
    parents: list[Account],
    tax_notice: Document,
) -> None:
    codes = print_code(signed_in(app, counter_agent), foyer.id)
    newcomer = app.test_client()

    signed_up = sign_up_with(newcomer, codes)

    assert signed_up.status_code == 302
    assert log_in(newcomer, NEWCOMER).status_code == 302
    assert "En attente de la confirmation de votre foyer" in page_text(newcomer.get("/famille/"))
    for path in foyer_pages(tax_notice):
        assert newcomer.get(path).status_code == 403, path
    [asked] = events(db_session, foyer.id)[-1:]
    assert asked[0] == "foyer.join_requested"
    sent = mails(db_session, "foyer_demande_rejoindre")
    assert [m.recipient for m in sent] == [p.email for p in parents]
    assert json.loads(sent[0].context) == {"personne": NEWCOMER, "lien": FAMILY_SPACE}

    parent = signed_in(app, parents[1])
    home = page_text(parent.get("/famille/"))
    assert f"{NEWCOMER} demande à rejoindre votre foyer" in home
    assert f"imprimé au guichet par {counter_agent.display_name}" in home
    path = decision_path(db_session, "accepter")
    assert f'action="{path}"' in home
    assert parent.post(path, data={}).status_code == 400  # no CSRF token: nothing decided
    assert (
        parent.post(path, data={"csrf_token": csrf_token(parent, "/famille/")}).status_code == 303
    )

    assert events(db_session, foyer.id)[-1] == ("foyer.join_accepted", parents[1].id)
    for path in foyer_pages(tax_notice):
        assert newcomer.get(path).status_code == 200, path
    assert NEWCOMER in [m.recipient for m in mails(db_session, "foyer_rejoint")]


def decision_path(session: Session, decision: str) -> str:
    """Where the home page's button accepts or refuses the one request to join."""
    join_id = session.scalars(select(JoinRequest.id)).one()
    return f"/famille/foyer/rejoindre/{join_id}/{decision}"


def test_refusing_closes_the_account_that_asked(
    app: Flask, db_session: Session, counter_agent: Account, foyer: Foyer, parents: list[Account]
) -> None:
    newcomer = app.test_client()
    sign_up_with(newcomer, print_code(signed_in(app, counter_agent), foyer.id))
    parent = signed_in(app, parents[0])
    path = decision_path(db_session, "refuser")

    refused = parent.post(path, data={"csrf_token": csrf_token(parent, "/famille/")})

    assert refused.status_code == 303
    assert "demande à rejoindre" not in page_text(parent.get("/famille/"))
    assert log_in(newcomer, NEWCOMER).status_code == 401
    assert events(db_session, foyer.id)[-1] == ("foyer.join_refused", parents[0].id)
    assert [m.recipient for m in mails(db_session, "foyer_rejoindre_refuse")] == [NEWCOMER]


def test_only_an_adult_of_the_foyer_decides_never_the_counter_nor_the_newcomer(
    app: Flask,
    db_session: Session,
    clock: FrozenClock,
    counter_agent: Account,
    foyer: Foyer,
    parents: list[Account],
) -> None:
    agent = signed_in(app, counter_agent)
    newcomer = app.test_client()
    sign_up_with(newcomer, print_code(agent, foyer.id))
    path = decision_path(db_session, "accepter")
    stranger = signed_in(app, make_account(db_session, clock, Role.FAMILLE))
    assert counter_post(agent, f"/agent/guichet/{foyer.id}/ouvrir").status_code == 303
    assert log_in(newcomer, NEWCOMER).status_code == 302

    for client, refused in ((stranger, 404), (agent, 403), (newcomer, 403)):
        token = csrf_token(client, "/famille/")
        assert client.post(path, data={"csrf_token": token}).status_code == refused
    assert "demande à rejoindre" not in page_text(agent.get("/famille/"))
    assert newcomer.get("/famille/coffre").status_code == 403
