"""Account pages end to end through the test client; e-mails read from the outbox table."""

from __future__ import annotations

import json
from datetime import date, timedelta

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from accounts import activation
from accounts.credentials import find_account
from accounts.models import Account, Role
from coffre.clock import FrozenClock
from coffre.models import Foyer, MemberRole
from notifications.models import OutboxMessage
from tests.factories import PASSWORD, make_account, page_text
from tests.web.auth.test_login import csrf_token, log_in

NEW_PASSWORD = "a brand new passphrase"
BASE_URL = "http://127.0.0.1:5000"  # the tests' settings keep the default


def post(client: FlaskClient, path: str, **data: str) -> TestResponse:
    return client.post(path, data={"csrf_token": csrf_token(client, path), **data})


def link_in(session: Session, template: str, recipient: str) -> str:
    message = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.template == template, OutboxMessage.recipient == recipient
        )
    )
    assert message is not None
    link = str(json.loads(message.context)["lien"])
    assert link.startswith(BASE_URL + "/"), "e-mailed links are built from BASE_URL only"
    return link.removeprefix(BASE_URL)


def open_link(client: FlaskClient, link: str) -> str:
    """Open an e-mailed link: its token goes into the session; returns the token-free page."""
    opened = client.get(link)
    assert opened.status_code == 303, page_text(opened)
    page = opened.headers["Location"]
    assert page.startswith("/") and link.rsplit("/", 1)[1] not in page
    return page


def sign_up(client: FlaskClient, email: str) -> TestResponse:
    return post(
        client,
        "/inscription",
        email=email,
        name="Jeanne Martin",
        password=PASSWORD,
        confirm=PASSWORD,
        information="y",
    )


def test_sign_up_then_activate_then_log_in(client: FlaskClient, db_session: Session) -> None:
    response = sign_up(client, "jeanne@example.org")

    assert response.status_code == 200
    assert "Consultez votre messagerie" in page_text(response)
    assert log_in(client, "jeanne@example.org").status_code == 401
    link = link_in(db_session, "activation_compte", "jeanne@example.org")
    assert link.startswith("/activation/")

    page = open_link(client, link)
    confirm = client.get(page)
    assert confirm.status_code == 200 and "Activer mon compte" in page_text(confirm)
    assert open_link(client, link) == page  # opening the link again consumes nothing
    assert log_in(client, "jeanne@example.org").status_code == 401

    assert post(client, page).headers["Location"].endswith("/connexion")
    assert client.get(link).status_code == 400  # single use
    assert client.post(page, data={"csrf_token": csrf_token(client)}).status_code == 400
    assert log_in(client, "jeanne@example.org").status_code == 302


def test_activation_link_opened_by_a_mail_scanner_does_not_activate(
    client: FlaskClient, db_session: Session
) -> None:
    sign_up(client, "jeanne@example.org")
    link = link_in(db_session, "activation_compte", "jeanne@example.org")

    scanned = client.get(link, follow_redirects=True)
    forged = client.post("/activation/confirmer", data={})

    assert scanned.status_code == 200
    assert forged.status_code == 400
    account = find_account(db_session, "jeanne@example.org")
    assert account is not None
    db_session.refresh(account)
    assert not account.is_active


def test_sign_up_does_not_tell_whether_the_address_exists(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    known = make_account(db_session, clock, Role.FAMILLE)

    for_known = sign_up(client, known.email)
    for_unknown = sign_up(client, "new@example.org")

    assert for_known.status_code == for_unknown.status_code == 200
    assert page_text(for_known) == page_text(for_unknown)
    assert db_session.scalars(select(OutboxMessage.recipient)).all() == ["new@example.org"]


def test_sign_up_checks_the_password(client: FlaskClient, db_session: Session) -> None:
    mismatch = post(
        client,
        "/inscription",
        email="j@example.org",
        name="J",
        password=PASSWORD,
        confirm=PASSWORD + "x",
    )
    with_email = post(
        client,
        "/inscription",
        email="jeanne@example.org",
        name="J",
        password="jeanne@example.org!",
        confirm="jeanne@example.org!",
        information="y",
    )

    assert mismatch.status_code == with_email.status_code == 400
    assert "Les mots de passe sont différents." in page_text(mismatch)
    assert "ne doit pas contenir votre adresse" in page_text(with_email)
    assert find_account(db_session, "jeanne@example.org") is None


def test_sign_up_refuses_a_post_without_csrf(client: FlaskClient) -> None:
    response = client.post(
        "/inscription",
        data={"email": "a@b.org", "name": "A", "password": PASSWORD, "confirm": PASSWORD},
    )

    assert response.status_code == 400


def test_expired_activation_link(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    sign_up(client, "jeanne@example.org")
    link = link_in(db_session, "activation_compte", "jeanne@example.org")
    page = open_link(client, link)
    token = csrf_token(client, page)
    clock.advance(timedelta(hours=49))

    response = client.get(link)
    confirmed = client.post(page, data={"csrf_token": token})  # checked again when used

    assert response.status_code == confirmed.status_code == 400
    assert "n’est plus valable" in page_text(response)
    assert "n’est plus valable" in page_text(confirmed)


def test_activation_with_a_family_code(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    foyer = Foyer(label="Famille Code", created_at=clock.now())
    db_session.add(foyer)
    db_session.commit()
    code, one_time = activation.issue_family_code(db_session, clock, foyer.id)
    fields = {"email": "paul@example.org", "password": PASSWORD, "confirm": PASSWORD}
    unticked = post(client, "/activation/code", family_code=code, one_time_code=one_time, **fields)
    fields["information"] = "y"

    wrong = post(client, "/activation/code", family_code=code, one_time_code="NOPE", **fields)
    unknown = post(
        client, "/activation/code", family_code="F-NOPE", one_time_code=one_time, **fields
    )
    right = post(client, "/activation/code", family_code=code, one_time_code=one_time, **fields)
    again = post(client, "/activation/code", family_code=code, one_time_code=one_time, **fields)

    assert wrong.status_code == unknown.status_code == again.status_code == 400
    assert "Le code famille ou le code à usage unique est incorrect." in page_text(wrong)
    assert page_text(wrong).count("incorrect") == page_text(unknown).count("incorrect")
    assert unticked.status_code == 400 and "Cochez cette case" in page_text(unticked)
    assert right.status_code == 302
    account = find_account(db_session, "paul@example.org")
    assert account is not None and account.foyer_id == foyer.id
    assert account.information_version == "1"
    assert log_in(client, "paul@example.org").status_code == 302


def test_family_code_page_is_throttled(client: FlaskClient) -> None:
    statuses = [
        post(
            client,
            "/activation/code",
            family_code="F-NOPE",
            one_time_code="NOPE",
            email="x@example.org",
            password=PASSWORD,
            confirm=PASSWORD,
        ).status_code
        for _ in range(11)
    ]

    assert statuses[:10] == [400] * 10 and statuses[10] == 429


def test_forgotten_password_end_to_end(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    account = make_account(db_session, clock, Role.FAMILLE)

    for_known = post(client, "/mot-de-passe-oublie", email=account.email)
    for_unknown = post(client, "/mot-de-passe-oublie", email="nobody@example.org")

    assert for_known.status_code == for_unknown.status_code == 200
    assert page_text(for_known) == page_text(for_unknown)
    assert db_session.scalars(select(OutboxMessage.recipient)).all() == [account.email]
    link = link_in(db_session, "reinitialisation_mot_de_passe", account.email)
    assert link.startswith("/mot-de-passe/")

    page = open_link(client, link)
    reset = post(client, page, password=NEW_PASSWORD, confirm=NEW_PASSWORD)

    assert reset.status_code == 302
    assert client.get(link).status_code == 400  # single use
    assert client.get(page).status_code == 400
    assert log_in(client, account.email).status_code == 401
    assert log_in(client, account.email, NEW_PASSWORD).status_code == 302


def test_reset_link_expires_after_2_hours(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    account = make_account(db_session, clock, Role.FAMILLE)
    post(client, "/mot-de-passe-oublie", email=account.email)
    link = link_in(db_session, "reinitialisation_mot_de_passe", account.email)
    clock.advance(timedelta(hours=2, minutes=1))

    assert client.get(link).status_code == 400


def test_change_password(family_client: FlaskClient, family: Account) -> None:
    wrong = post(
        family_client,
        "/famille/mot-de-passe",
        current="not my password",
        password=NEW_PASSWORD,
        confirm=NEW_PASSWORD,
    )
    right = post(
        family_client,
        "/famille/mot-de-passe",
        current=PASSWORD,
        password=NEW_PASSWORD,
        confirm=NEW_PASSWORD,
    )

    assert wrong.status_code == 400
    assert "Le mot de passe actuel est incorrect." in page_text(wrong)
    assert right.status_code == 302
    family_client.post("/deconnexion", data={"csrf_token": csrf_token(family_client, "/")})
    assert log_in(family_client, family.email, NEW_PASSWORD).status_code == 302


def test_change_password_needs_a_login(client: FlaskClient) -> None:
    assert client.get("/famille/mot-de-passe").status_code == 302


def test_invite_a_second_adult(
    family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    assert post(family_client, "/famille/foyer/inviter", email="sam@example.org").status_code == 302
    link = link_in(db_session, "invitation_foyer", "sam@example.org")
    assert link.startswith("/invitation/")
    family_client.post("/deconnexion", data={"csrf_token": csrf_token(family_client, "/")})

    page = open_link(family_client, link)
    assert "sam@example.org" in page_text(family_client.get(page))
    account = {"name": "Sam Dupont", "password": PASSWORD, "confirm": PASSWORD}
    unticked = post(family_client, page, **account)
    assert unticked.status_code == 400 and "Cochez cette case" in page_text(unticked)
    assert find_account(db_session, "sam@example.org") is None
    joined = post(family_client, page, information="y", **account)

    assert joined.status_code == 302
    invitee = find_account(db_session, "sam@example.org")
    assert invitee is not None and invitee.foyer_id == family.foyer_id
    assert invitee.information_version == "1"
    assert family_client.get(link).status_code == 400  # single use
    assert log_in(family_client, "sam@example.org").status_code == 302


def test_household_file(
    family_client: FlaskClient, family: Account, db_session: Session, clock: FrozenClock
) -> None:
    foyer = db_session.get(Foyer, family.foyer_id)
    assert foyer is not None
    foyer.tranche_qf, foyer.quotient_familial = "B", 640
    foyer.qf_valid_until = date(2027, 8, 31)
    db_session.commit()

    page = page_text(family_client.get("/famille/foyer"))
    assert "Mon foyer" in page and "Tranche B (quotient familial 640)" in page

    token = csrf_token(family_client, "/famille/foyer")
    added = family_client.post(
        "/famille/foyer/enfants",
        data={
            "csrf_token": token,
            "enfant-first_name": "Léa",
            "enfant-last_name": "Test",
            "enfant-birth_date": "2019-03-02",
        },
    )
    assert added.status_code == 302
    db_session.refresh(foyer)
    children = [m for m in foyer.members if m.role is MemberRole.ENFANT]
    assert [(c.first_name, c.birth_date) for c in children] == [("Léa", date(2019, 3, 2))]

    moved = family_client.post(
        "/famille/foyer/adresse",
        data={
            "csrf_token": token,
            "adresse-address_line": "1 rue de Paris",
            "adresse-postal_code": "94300",
            "adresse-city": "Vincennes",
        },
        follow_redirects=True,
    )
    assert "Un nouveau justificatif de domicile vous sera demandé" in page_text(moved)
    db_session.refresh(foyer)
    assert foyer.city == "Vincennes"


def test_household_refuses_a_future_birth_date(family_client: FlaskClient) -> None:
    token = csrf_token(family_client, "/famille/foyer")
    response = family_client.post(
        "/famille/foyer/enfants",
        data={
            "csrf_token": token,
            "enfant-first_name": "Léo",
            "enfant-last_name": "Test",
            "enfant-birth_date": "2030-01-01",
        },
    )

    assert response.status_code == 400
    assert "ne peut pas être dans le futur" in page_text(response)
