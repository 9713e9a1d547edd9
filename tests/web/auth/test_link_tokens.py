"""E-mailed links: the token leaves the address at once, and is checked again when used."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from accounts.models import Role, Service
from coffre.clock import FrozenClock
from tests.factories import PASSWORD, make_account, page_text
from tests.web.agents import sign_in_agent
from tests.web.auth.test_account import NEW_PASSWORD, link_in, post
from tests.web.auth.test_login import csrf_token, log_in

NO_LONGER_VALID = "Ce lien n’est plus valable"


def activation_link(app: Flask, session: Session, clock: FrozenClock, ville: Service) -> str:
    fields = {"name": "Jeanne Martin", "password": PASSWORD, "confirm": PASSWORD}
    fields["information"] = "y"
    post(app.test_client(), "/inscription", email="jeanne@example.org", **fields)
    return link_in(session, "activation_compte", "jeanne@example.org")


def reset_link(app: Flask, session: Session, clock: FrozenClock, ville: Service) -> str:
    account = make_account(session, clock, Role.FAMILLE)
    post(app.test_client(), "/mot-de-passe-oublie", email=account.email)
    return link_in(session, "reinitialisation_mot_de_passe", account.email)


def household_link(app: Flask, session: Session, clock: FrozenClock, ville: Service) -> str:
    family, client = make_account(session, clock, Role.FAMILLE), app.test_client()
    assert log_in(client, family.email).status_code == 302
    post(client, "/famille/foyer/inviter", email="sam@example.org")
    return link_in(session, "invitation_foyer", "sam@example.org")


def agent_link(app: Flask, session: Session, clock: FrozenClock, ville: Service) -> str:
    admin, client = make_account(session, clock, Role.ADMIN), app.test_client()
    assert sign_in_agent(client, admin).status_code == 302
    form = {"display_name": "Nadia Nouvelle", f"service-{ville.id}": "agent"}
    post(client, "/admin/agents/inviter", email="nadia@ville.example", **form)
    return link_in(session, "invitation_agent", "nadia@ville.example")


LinkMaker = Callable[[Flask, Session, FrozenClock, Service], str]
LINKS: dict[str, tuple[LinkMaker, str]] = {  # each link, and the page it leads to
    "activation": (activation_link, "/activation/confirmer"),
    "reset": (reset_link, "/mot-de-passe/nouveau"),
    "household": (household_link, "/invitation/foyer"),
    "agent": (agent_link, "/admin/invitation/mot-de-passe"),
}


@pytest.mark.parametrize("kind", LINKS)
def test_an_e_mailed_link_leaves_its_token_in_the_session_not_the_address(
    app: Flask, db_session: Session, clock: FrozenClock, ville: Service, kind: str
) -> None:
    make_link, page = LINKS[kind]
    link = make_link(app, db_session, clock, ville)
    token = link.rsplit("/", 1)[1]
    browser = app.test_client()

    opened = browser.get(link)
    form = browser.get(page)

    assert opened.status_code == 303 and opened.headers["Location"] == page
    assert form.status_code == 200
    assert token not in page_text(form)  # nor in the form's action
    elsewhere = app.test_client().get(page)  # a browser that did not open the link
    assert elsewhere.status_code == 400 and NO_LONGER_VALID in page_text(elsewhere)
    tampered = browser.get(link[:-3] + "xyz")
    assert tampered.status_code == 400 and NO_LONGER_VALID in page_text(tampered)


def test_a_reset_link_is_checked_again_when_its_form_is_sent(
    app: Flask, db_session: Session, clock: FrozenClock, ville: Service
) -> None:
    link = reset_link(app, db_session, clock, ville)
    first, second = app.test_client(), app.test_client()
    assert first.get(link).status_code == second.get(link).status_code == 303
    new = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    token = csrf_token(first, "/mot-de-passe/nouveau")  # the first browser holds its form

    used = post(second, "/mot-de-passe/nouveau", **new)
    refused = first.post("/mot-de-passe/nouveau", data={"csrf_token": token, **new})

    assert used.status_code == 302
    assert refused.status_code == 400 and NO_LONGER_VALID in page_text(refused)
    assert second.get("/mot-de-passe/nouveau").status_code == 400  # spent in its session too
