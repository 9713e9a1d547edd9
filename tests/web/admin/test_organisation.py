"""Administration pages end to end: entities, services, agents, document types and the journal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from accounts import second_factor
from accounts.credentials import find_account
from accounts.models import Account, Role, Service
from coffre.clock import FrozenClock
from notifications.models import OutboxMessage
from tests.factories import PASSWORD, make_account, make_agent, page_text
from tests.web.agents import sign_in_agent, sign_in_agent_in_browser
from tests.web.auth.test_account import BASE_URL, open_link
from tests.web.auth.test_login import csrf_token, log_in
from tests.web.browser import axe_context, page_problems, serve_portal
from web.runtime import runtime

INBOX = "/agent/taches"


def post(client: FlaskClient, path: str, page: str | None = None, **data: object) -> TestResponse:
    """Submit a form of `page` (default: `path`) with its CSRF token."""
    return client.post(path, data={"csrf_token": csrf_token(client, page or path), **data})


def signed_in(app: Flask, account: Account) -> FlaskClient:
    client = app.test_client()
    response = sign_in_agent(client, account)
    assert response.status_code == 302, page_text(response)
    return client


def test_families_and_agents_cannot_open_the_administration(
    app: Flask, client: FlaskClient, db_session: Session, clock: FrozenClock, ville: Service
) -> None:
    family = make_account(db_session, clock, Role.FAMILLE)
    assert log_in(client, family.email).status_code == 302
    agent_client = signed_in(app, make_agent(db_session, clock, ville))

    for visitor in (client, agent_client):
        assert visitor.get("/admin/").status_code == 403
        assert visitor.get("/admin/journal").status_code == 403
        assert visitor.get(f"/admin/services/{ville.id}/renommer").status_code == 403


def test_global_admin_creates_an_entity_and_a_service_and_sees_them_journaled(
    app: Flask, global_admin: Account
) -> None:
    client = signed_in(app, global_admin)

    created = post(client, "/admin/entites/nouvelle", slug="agglo", name="Agglomération")
    assert created.status_code == 302
    home = page_text(client.get("/admin/"))
    assert "Agglomération" in home
    assert "Renommer l'entité" in home and "Ajouter un service" in home

    refused = post(client, "/admin/entites/nouvelle", slug="Pas Bon!", name="X")
    assert refused.status_code == 400
    assert "Utilisez de 2 à 60 lettres minuscules" in page_text(refused)

    journal = page_text(client.get("/admin/journal"))
    assert "Entité créée" in journal
    assert "identifiant : agglo" in journal and "nom : Agglomération" in journal


def test_entity_admin_renames_its_service_and_the_journal_shows_before_and_after(
    app: Flask, ville_admin: Account, ville: Service
) -> None:
    client = signed_in(app, ville_admin)
    old_name = ville.name
    path = f"/admin/services/{ville.id}/renommer"

    assert post(client, path, name="").status_code == 400
    assert post(client, path, name="Petite enfance").status_code == 302

    journal = page_text(client.get("/admin/journal"))
    assert "Service renommé" in journal
    assert f"nom : {old_name}" in journal and "nom : Petite enfance" in journal
    assert ville_admin.display_name in journal


def test_an_entity_admin_cannot_see_or_touch_another_entitys_services_and_agents(
    app: Flask,
    db_session: Session,
    clock: FrozenClock,
    ville_admin: Account,
    ville: Service,
    partner: Service,
) -> None:
    theirs = make_agent(db_session, clock, partner)
    mine = make_agent(db_session, clock, ville)
    client = signed_in(app, ville_admin)

    home = page_text(client.get("/admin/"))
    assert ville.name in home and mine.email in home
    assert partner.name not in home and theirs.email not in home
    assert client.get(f"/admin/agents/{theirs.id}").status_code == 404
    assert client.get(f"/admin/services/{partner.id}/renommer").status_code == 404
    token = csrf_token(client, f"/admin/agents/{mine.id}")
    for path in (
        f"/admin/agents/{theirs.id}/desactiver",
        f"/admin/agents/{theirs.id}/second-facteur",
        f"/admin/services/{partner.id}/renommer",
        f"/admin/entites/{partner.entity_id}/services/nouveau",
    ):
        assert (
            client.post(path, data={"csrf_token": token, "name": "X", "code": "x-y"}).status_code
            == 404
        )
    stolen = client.post(
        f"/admin/agents/{mine.id}/services",
        data={"csrf_token": token, f"service-{partner.id}": "agent"},
    )
    assert stolen.status_code == 404
    assert client.get("/admin/entites/nouvelle").status_code == 403
    assert client.get(f"/admin/entites/{ville.entity_id}/renommer").status_code == 403
    db_session.expire_all()
    assert db_session.get(Account, theirs.id).is_active  # type: ignore[union-attr]
    assert db_session.get(Service, partner.id).name == partner.name  # type: ignore[union-attr]


def test_an_invited_agent_sets_its_password_through_the_e_mail_link_and_signs_in(
    app: Flask, db_session: Session, ville_admin: Account, ville: Service
) -> None:
    client = signed_in(app, ville_admin)
    invited = post(
        client,
        "/admin/agents/inviter",
        email="nouvelle.agente@ville.example",
        display_name="Nadia Nouvelle",
        **{f"service-{ville.id}": "supervisor"},
    )
    assert invited.status_code == 302
    message = db_session.scalar(
        select(OutboxMessage).where(OutboxMessage.recipient == "nouvelle.agente@ville.example")
    )
    assert message is not None and message.template == "invitation_agent"
    link = str(json.loads(message.context)["lien"]).removeprefix(BASE_URL)
    assert link.startswith("/admin/invitation/")
    assert "Invitation envoyée" in page_text(client.get(invited.headers["Location"]))

    agent_browser = app.test_client()
    page = open_link(agent_browser, link)
    assert "Choisissez votre mot de passe" in page_text(agent_browser.get(page))
    weak = post(agent_browser, page, password="court", confirm="court")
    assert "au moins 12 caractères" in page_text(weak)
    done = post(agent_browser, page, password=PASSWORD, confirm=PASSWORD)
    assert done.headers["Location"] == "/connexion"
    assert agent_browser.get(link).status_code == 400  # used once

    account = find_account(db_session, "nouvelle.agente@ville.example")
    assert account is not None and account.is_active
    assert not second_factor.is_enrolled(account)  # enrolled at the first login
    assert sign_in_agent(app.test_client(), account).headers["Location"] == INBOX
    journal = page_text(client.get("/admin/journal"))
    assert "Agent invité" in journal and f"services : {ville.code} (superviseur)" in journal


def test_an_invitation_needs_a_service_and_an_unused_address(
    app: Flask, db_session: Session, clock: FrozenClock, ville_admin: Account, ville: Service
) -> None:
    client = signed_in(app, ville_admin)
    taken = make_agent(db_session, clock, ville)

    no_service = post(client, "/admin/agents/inviter", email="x@ville.example", display_name="X")
    assert no_service.status_code == 400
    assert "Choisissez au moins un service." in page_text(no_service)
    duplicate = post(
        client,
        "/admin/agents/inviter",
        email=taken.email.upper(),
        display_name="X",
        **{f"service-{ville.id}": "agent"},
    )
    assert "Un compte utilise déjà cette adresse." in page_text(duplicate)
    assert db_session.scalars(select(OutboxMessage)).all() == []


def test_a_reset_second_factor_must_be_enrolled_again(
    app: Flask, db_session: Session, clock: FrozenClock, ville_admin: Account, ville: Service
) -> None:
    agent = make_agent(db_session, clock, ville)
    signed_in(app, agent)
    client = signed_in(app, ville_admin)

    reset = post(client, f"/admin/agents/{agent.id}/second-facteur", f"/admin/agents/{agent.id}")

    assert reset.status_code == 302
    db_session.expire_all()
    assert not second_factor.is_enrolled(db_session.get(Account, agent.id))  # type: ignore[arg-type]
    page = page_text(client.get(f"/admin/agents/{agent.id}"))
    assert "non activée : l'agent l'activera à sa prochaine connexion" in page
    assert "Double authentification réinitialisée" in page_text(client.get("/admin/journal"))


def test_a_deactivated_agent_is_signed_out_and_can_no_longer_sign_in(
    app: Flask, db_session: Session, clock: FrozenClock, ville_admin: Account, ville: Service
) -> None:
    agent = make_agent(db_session, clock, ville)
    agent_client = signed_in(app, agent)
    assert agent_client.get(INBOX).status_code == 200
    client = signed_in(app, ville_admin)

    page = f"/admin/agents/{agent.id}"
    assert post(client, f"{page}/desactiver", page).status_code == 302

    assert agent_client.get(INBOX).status_code == 302  # its session ended
    assert sign_in_agent(app.test_client(), agent).status_code == 401
    assert "Désactivé" in page_text(client.get(page))
    assert post(client, f"{page}/desactiver", page).status_code == 409
    journal = page_text(client.get("/admin/journal"))
    assert "Agent désactivé" in journal and "actif : oui" in journal and "actif : non" in journal


def test_setting_an_agents_services_and_supervision(
    app: Flask,
    db_session: Session,
    clock: FrozenClock,
    global_admin: Account,
    ville: Service,
    partner: Service,
) -> None:
    agent = make_agent(db_session, clock, ville)
    client = signed_in(app, global_admin)
    page = f"/admin/agents/{agent.id}"

    none = post(client, f"{page}/services", page)
    assert none.status_code == 400 and "Choisissez au moins un service." in page_text(none)
    saved = post(
        client,
        f"{page}/services",
        page,
        **{f"service-{ville.id}": "supervisor", f"service-{partner.id}": "agent"},
    )

    assert saved.status_code == 302
    db_session.expire_all()
    memberships = {
        (m.service_id, m.is_supervisor)
        for m in db_session.get(Account, agent.id).memberships  # type: ignore[union-attr]
    }
    assert memberships == {(ville.id, True), (partner.id, False)}
    shown = page_text(client.get(page))
    assert shown.count('value="supervisor" selected') == 1
    assert shown.count('value="agent" selected') == 1


def test_document_types_are_edited_by_a_global_admin_and_read_by_an_entity_admin(
    app: Flask, global_admin: Account, ville_admin: Account
) -> None:
    client = signed_in(app, global_admin)
    path = "/admin/types-de-documents/justificatif_domicile"
    form = page_text(client.get(path))
    assert "Justificatif de domicile" in form and "Formats acceptés" in form

    bad = post(
        client, path, validity="months", months="0", reusable="oui", formats=["application/pdf"]
    )
    assert bad.status_code == 400 and "entre 1 et 600" in page_text(bad)
    saved = post(
        client, path, validity="months", months="6", reusable="non", formats=["application/pdf"]
    )
    assert saved.status_code == 302

    listing = page_text(client.get("/admin/types-de-documents"))
    assert "6 mois" in listing and "Personnalisé" in listing
    journal = page_text(client.get("/admin/journal"))
    assert "formats : PDF, JPEG, PNG" in journal and "formats : PDF" in journal

    reader = signed_in(app, ville_admin)
    assert "6 mois" in page_text(reader.get("/admin/types-de-documents"))
    assert reader.get(path).status_code == 403


@pytest.mark.browser
def test_the_administration_pages_are_accessible_and_fit_a_phone(
    tmp_path: Path, browser: Any
) -> None:
    with serve_portal(tmp_path / "var") as portal:
        with runtime(portal.app).sessions() as session:
            agent = find_account(session, "agent.creche@bellerive.example")
            assert agent is not None
            agent_id = agent.id
        context = axe_context(browser)
        page = context.new_page()
        sign_in_agent_in_browser(page, portal.url, portal.app, "admin@bellerive.example")
        problems: dict[str, list[Any]] = {}
        for name, path in [
            ("accueil", "/admin/"),
            ("agent", f"/admin/agents/{agent_id}"),
            ("inviter", "/admin/agents/inviter"),
            ("types", "/admin/types-de-documents"),
            ("type", "/admin/types-de-documents/rib"),
            ("journal", "/admin/journal"),
        ]:
            page.goto(portal.url + path)
            problems[name] = page_problems(page, f"admin-{name}")
        context.close()

    assert problems == {name: [] for name in problems}


def test_only_a_global_admin_says_which_services_run_the_counter(
    app: Flask,
    db_session: Session,
    global_admin: Account,
    ville_admin: Account,
    ville: Service,
) -> None:
    path = f"/admin/services/{ville.id}/guichet"
    entity_admin = signed_in(app, ville_admin)
    assert post(entity_admin, path, page="/admin/", runs_counter="y").status_code == 403
    client = signed_in(app, global_admin)

    assert "Confier le guichet" in page_text(client.get("/admin/"))
    assert post(client, path, page="/admin/", runs_counter="y").status_code == 302
    db_session.expire_all()
    assert db_session.get_one(Service, ville.id).runs_counter
    assert "Retirer le guichet" in page_text(client.get("/admin/"))
    assert post(client, path, page="/admin/").status_code == 302  # the box unticked
    db_session.expire_all()
    assert not db_session.get_one(Service, ville.id).runs_counter
    journal = page_text(client.get("/admin/journal"))
    assert "Droit de guichet modifié" in journal and "tient le guichet : oui" in journal
