"""Sign-up, activation links, family codes, password reset and invitations, without a browser."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import activation, credentials, information
from accounts.credentials import (
    EmailTaken,
    InvalidCredentials,
    PasswordContainsEmail,
    WeakPassword,
    authenticate,
    change_password,
    find_account,
)
from accounts.household import (
    ChildNotFound,
    DetailTooLong,
    PaiWithoutAllergies,
    add_child,
    household,
    household_child,
    update_address,
    update_child,
)
from accounts.models import Account, Role
from coffre.clock import FrozenClock
from coffre.models import Foyer, MemberRole
from notifications.models import OutboxMessage
from tests.factories import PASSWORD, make_account, make_foyer

SECRET = "test-secret-key"
NEW_PASSWORD = "a brand new passphrase"


def link(token: str) -> str:
    return f"https://portail.test/lien/{token}"


def token_of(session: Session, template: str, recipient: str) -> str:
    message = session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.template == template, OutboxMessage.recipient == recipient)
        .order_by(OutboxMessage.id.desc())
    )
    assert message is not None, f"no {template} message to {recipient}"
    return str(json.loads(message.context)["lien"]).rsplit("/", 1)[1]


def sign_up(session: Session, clock: FrozenClock, email: str = "jeanne@example.org") -> None:
    activation.sign_up(
        session,
        clock,
        secret=SECRET,
        link=link,
        email=email,
        name="Jeanne Martin",
        password=PASSWORD,
        information_version=information.in_force_identifier(session),
    )


# --- sign-up and activation ---------------------------------------------------------------


def test_sign_up_creates_an_inactive_account_and_its_foyer(
    db_session: Session, clock: FrozenClock
) -> None:
    sign_up(db_session, clock)

    account = find_account(db_session, "Jeanne@Example.org")
    assert account is not None and not account.is_active and account.role is Role.FAMILLE
    foyer = db_session.get(Foyer, account.foyer_id)
    assert foyer is not None
    assert [(m.role, m.first_name, m.last_name) for m in foyer.members] == [
        (MemberRole.ADULTE, "Jeanne", "Martin")
    ]
    with pytest.raises(InvalidCredentials):
        authenticate(db_session, clock, "jeanne@example.org", PASSWORD)


def test_activation_link_activates_once(db_session: Session, clock: FrozenClock) -> None:
    sign_up(db_session, clock)
    token = token_of(db_session, "activation_compte", "jeanne@example.org")

    account = activation.activate(db_session, clock, secret=SECRET, token=token)

    assert account.is_active
    assert authenticate(db_session, clock, "jeanne@example.org", PASSWORD).id == account.id
    with pytest.raises(activation.InvalidToken):
        activation.activate(db_session, clock, secret=SECRET, token=token)


def test_activation_link_expires_after_48_hours(db_session: Session, clock: FrozenClock) -> None:
    sign_up(db_session, clock)
    token = token_of(db_session, "activation_compte", "jeanne@example.org")

    clock.advance(timedelta(hours=48, seconds=1))

    with pytest.raises(activation.InvalidToken):
        activation.activate(db_session, clock, secret=SECRET, token=token)


def test_activation_link_still_works_just_before_48_hours(
    db_session: Session, clock: FrozenClock
) -> None:
    sign_up(db_session, clock)
    token = token_of(db_session, "activation_compte", "jeanne@example.org")
    clock.advance(timedelta(hours=47, minutes=59))

    assert activation.activate(db_session, clock, secret=SECRET, token=token).is_active


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + "xx", lambda t: "x" + t, lambda t: ""])
def test_tampered_activation_link_is_refused(
    db_session: Session, clock: FrozenClock, mangle: Callable[[str], str]
) -> None:
    sign_up(db_session, clock)
    token = token_of(db_session, "activation_compte", "jeanne@example.org")

    with pytest.raises(activation.InvalidToken):
        activation.activate(db_session, clock, secret=SECRET, token=mangle(token))
    with pytest.raises(activation.InvalidToken):
        activation.activate(db_session, clock, secret="another-secret", token=token)


def test_an_activation_token_is_no_reset_token(db_session: Session, clock: FrozenClock) -> None:
    sign_up(db_session, clock)
    token = token_of(db_session, "activation_compte", "jeanne@example.org")

    with pytest.raises(activation.InvalidToken):
        activation.check_reset_token(db_session, clock, secret=SECRET, token=token)


def test_sign_up_with_a_known_address_creates_and_sends_nothing(
    db_session: Session, clock: FrozenClock
) -> None:
    existing = make_account(db_session, clock, Role.FAMILLE)
    accounts = db_session.scalars(select(Account.id)).all()

    sign_up(db_session, clock, email=existing.email.upper())

    assert db_session.scalars(select(Account.id)).all() == accounts
    assert db_session.scalars(select(OutboxMessage)).all() == []


@pytest.mark.parametrize(
    ("password", "error"),
    [("short pass", WeakPassword), ("my jeanne@example.org pass", PasswordContainsEmail)],
)
def test_sign_up_refuses_weak_passwords(
    db_session: Session, clock: FrozenClock, password: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        activation.sign_up(
            db_session,
            clock,
            secret=SECRET,
            link=link,
            email="jeanne@example.org",
            name="Jeanne",
            password=password,
            information_version=information.in_force_identifier(db_session),
        )
    assert find_account(db_session, "jeanne@example.org") is None


# --- family codes -------------------------------------------------------------------------


def activate_with(
    session: Session, clock: FrozenClock, code: str, one_time: str, email: str = "paul@ex.org"
) -> Account:
    return activation.activate_with_code(
        session,
        clock,
        family_code=code,
        one_time_code=one_time,
        email=email,
        password=PASSWORD,
        link="https://famille.ville.example/famille/",
    )


def test_right_family_code_creates_an_active_account_on_the_foyer(
    db_session: Session, clock: FrozenClock
) -> None:
    foyer = make_foyer(db_session, clock)
    code, one_time = activation.issue_family_code(db_session, clock, foyer.id)

    account = activate_with(db_session, clock, code.lower(), f" {one_time} ")

    assert account.is_active and account.foyer_id == foyer.id
    assert authenticate(db_session, clock, "paul@ex.org", PASSWORD).id == account.id


def test_family_code_is_single_use(db_session: Session, clock: FrozenClock) -> None:
    foyer = make_foyer(db_session, clock)
    code, one_time = activation.issue_family_code(db_session, clock, foyer.id)
    activate_with(db_session, clock, code, one_time)

    with pytest.raises(activation.InvalidFamilyCode):
        activate_with(db_session, clock, code, one_time, email="autre@ex.org")


def test_wrong_codes_give_one_error(db_session: Session, clock: FrozenClock) -> None:
    foyer = make_foyer(db_session, clock)
    code, one_time = activation.issue_family_code(db_session, clock, foyer.id)

    for family_code, one_time_code in [(code, "WRONG"), ("F-NOPE", one_time), ("", "")]:
        with pytest.raises(activation.InvalidFamilyCode):
            activate_with(db_session, clock, family_code, one_time_code)
    assert find_account(db_session, "paul@ex.org") is None


def test_family_code_expires(db_session: Session, clock: FrozenClock) -> None:
    foyer = make_foyer(db_session, clock)
    code, one_time = activation.issue_family_code(db_session, clock, foyer.id)
    clock.advance(activation.FAMILY_CODE_VALIDITY)

    with pytest.raises(activation.InvalidFamilyCode):
        activate_with(db_session, clock, code, one_time)


def test_family_code_with_a_taken_address(db_session: Session, clock: FrozenClock) -> None:
    foyer = make_foyer(db_session, clock)
    other = make_account(db_session, clock, Role.FAMILLE)
    code, one_time = activation.issue_family_code(db_session, clock, foyer.id)

    with pytest.raises(EmailTaken):
        activate_with(db_session, clock, code, one_time, email=other.email)


# --- password reset and change ------------------------------------------------------------


def request_reset(session: Session, clock: FrozenClock, email: str) -> None:
    activation.request_password_reset(session, clock, secret=SECRET, link=link, email=email)


def test_reset_link_sets_a_new_password_once(db_session: Session, clock: FrozenClock) -> None:
    account = make_account(db_session, clock, Role.FAMILLE)
    request_reset(db_session, clock, account.email)
    token = token_of(db_session, "reinitialisation_mot_de_passe", account.email)

    activation.reset_password(db_session, clock, secret=SECRET, token=token, password=NEW_PASSWORD)

    assert authenticate(db_session, clock, account.email, NEW_PASSWORD).id == account.id
    with pytest.raises(activation.InvalidToken):
        activation.reset_password(
            db_session, clock, secret=SECRET, token=token, password="yet another passphrase"
        )


def test_reset_link_expires_after_2_hours(db_session: Session, clock: FrozenClock) -> None:
    account = make_account(db_session, clock, Role.FAMILLE)
    request_reset(db_session, clock, account.email)
    token = token_of(db_session, "reinitialisation_mot_de_passe", account.email)
    clock.advance(timedelta(hours=2, seconds=1))

    with pytest.raises(activation.InvalidToken):
        activation.reset_password(
            db_session, clock, secret=SECRET, token=token, password=NEW_PASSWORD
        )


def test_tampered_reset_link_is_refused(db_session: Session, clock: FrozenClock) -> None:
    account = make_account(db_session, clock, Role.FAMILLE)
    request_reset(db_session, clock, account.email)
    token = token_of(db_session, "reinitialisation_mot_de_passe", account.email)

    with pytest.raises(activation.InvalidToken):
        activation.check_reset_token(db_session, clock, secret=SECRET, token=token[:-3] + "abc")


def test_reset_for_an_unknown_address_sends_nothing(
    db_session: Session, clock: FrozenClock
) -> None:
    request_reset(db_session, clock, "nobody@example.org")

    assert db_session.scalars(select(OutboxMessage)).all() == []


def test_change_password_checks_the_current_one(db_session: Session, clock: FrozenClock) -> None:
    account = make_account(db_session, clock, Role.FAMILLE)

    with pytest.raises(InvalidCredentials):
        change_password(db_session, clock, account.id, "not my password", NEW_PASSWORD)
    with pytest.raises(WeakPassword):
        change_password(db_session, clock, account.id, PASSWORD, "short")
    change_password(db_session, clock, account.id, PASSWORD, NEW_PASSWORD)

    assert authenticate(db_session, clock, account.email, NEW_PASSWORD).id == account.id


# --- invitations --------------------------------------------------------------------------


def test_invitation_joins_the_same_foyer_once(db_session: Session, clock: FrozenClock) -> None:
    inviter = make_account(db_session, clock, Role.FAMILLE)
    activation.invite_adult(
        db_session, clock, secret=SECRET, link=link, account_id=inviter.id, email="Sam@ex.org"
    )
    token = token_of(db_session, "invitation_foyer", "sam@ex.org")

    assert activation.check_invitation(db_session, clock, secret=SECRET, token=token) == (
        "sam@ex.org"
    )
    invitee = activation.accept_invitation(
        db_session, clock, secret=SECRET, token=token, name="Sam Dupont", password=PASSWORD
    )

    assert invitee.foyer_id == inviter.foyer_id and invitee.is_active
    assert inviter.foyer_id is not None
    adults = household(db_session, inviter.foyer_id).adults
    assert ("Sam", "Dupont") in [(a.first_name, a.last_name) for a in adults]
    with pytest.raises(activation.InvalidToken):
        activation.accept_invitation(
            db_session, clock, secret=SECRET, token=token, name="Sam", password=PASSWORD
        )


def test_invitation_expires(db_session: Session, clock: FrozenClock) -> None:
    inviter = make_account(db_session, clock, Role.FAMILLE)
    activation.invite_adult(
        db_session, clock, secret=SECRET, link=link, account_id=inviter.id, email="sam@ex.org"
    )
    token = token_of(db_session, "invitation_foyer", "sam@ex.org")
    clock.advance(activation.INVITATION_VALIDITY + timedelta(seconds=1))

    with pytest.raises(activation.InvalidToken):
        activation.check_invitation(db_session, clock, secret=SECRET, token=token)


# --- household file -----------------------------------------------------------------------


def test_household_children_and_address(db_session: Session, clock: FrozenClock) -> None:
    foyer = make_foyer(db_session, clock)
    add_child(
        db_session, foyer.id, first_name=" Léa ", last_name="Test", birth_date=date(2019, 3, 2)
    )

    assert update_address(
        db_session, foyer.id, address_line="1 rue de Paris", postal_code="94300", city="Vincennes"
    )
    assert not update_address(
        db_session, foyer.id, address_line="1 rue de Paris", postal_code="94300", city="Vincennes"
    )
    file = household(db_session, foyer.id)
    assert [(c.first_name, c.birth_date) for c in file.children] == [("Léa", date(2019, 3, 2))]
    assert (file.address_line, file.postal_code, file.city) == (
        "1 rue de Paris",
        "94300",
        "Vincennes",
    )


def test_child_school_pai_and_allergies_are_recorded_and_edited(
    db_session: Session, clock: FrozenClock
) -> None:
    foyer = make_foyer(db_session, clock)
    child_id = add_child(
        db_session,
        foyer.id,
        first_name="Léa",
        last_name="Test",
        birth_date=date(2019, 3, 2),
        school=" École Jules Ferry ",
    )

    added = household(db_session, foyer.id).children[0]
    assert (added.school, added.has_pai, added.allergies) == ("École Jules Ferry", False, None)

    update_child(db_session, foyer.id, child_id, school="", has_pai=True, allergies=" arachide ")

    edited = household_child(db_session, foyer.id, child_id)
    assert (edited.school, edited.has_pai, edited.allergies) == (None, True, "arachide")


def test_a_pai_needs_its_allergies_described(db_session: Session, clock: FrozenClock) -> None:
    foyer = make_foyer(db_session, clock)
    child_id = add_child(
        db_session, foyer.id, first_name="Léa", last_name="Test", birth_date=date(2019, 3, 2)
    )

    with pytest.raises(PaiWithoutAllergies) as refused:
        update_child(db_session, foyer.id, child_id, school=None, has_pai=True, allergies="  ")
    with pytest.raises(PaiWithoutAllergies):
        add_child(
            db_session,
            foyer.id,
            first_name="Léo",
            last_name="Test",
            birth_date=date(2020, 1, 1),
            has_pai=True,
        )

    assert refused.value.field == "allergies"
    assert [c.first_name for c in household(db_session, foyer.id).children] == ["Léa"]
    assert not household_child(db_session, foyer.id, child_id).has_pai


def test_child_details_longer_than_their_columns_are_refused(
    db_session: Session, clock: FrozenClock
) -> None:
    foyer = make_foyer(db_session, clock)
    child_id = add_child(
        db_session, foyer.id, first_name="Léa", last_name="Test", birth_date=date(2019, 3, 2)
    )

    with pytest.raises(DetailTooLong) as school:
        update_child(
            db_session, foyer.id, child_id, school="x" * 201, has_pai=False, allergies=None
        )
    with pytest.raises(DetailTooLong) as allergies:
        update_child(db_session, foyer.id, child_id, school=None, has_pai=True, allergies="x" * 501)

    assert (school.value.field, allergies.value.field) == ("school", "allergies")
    update_child(
        db_session, foyer.id, child_id, school="x" * 200, has_pai=True, allergies="y" * 500
    )
    assert household_child(db_session, foyer.id, child_id).school == "x" * 200


def test_a_child_is_edited_only_through_its_own_foyer(
    db_session: Session, clock: FrozenClock
) -> None:
    foyer = make_foyer(db_session, clock)
    other = make_foyer(db_session, clock, "Autre")
    child_id = add_child(
        db_session, foyer.id, first_name="Léa", last_name="Test", birth_date=date(2019, 3, 2)
    )
    adult_id = household(db_session, foyer.id).adults[0].id

    with pytest.raises(ChildNotFound):
        update_child(db_session, other.id, child_id, school="A", has_pai=False, allergies=None)
    with pytest.raises(ChildNotFound):
        household_child(db_session, other.id, child_id)
    with pytest.raises(ChildNotFound):
        household_child(db_session, foyer.id, adult_id)
    assert household_child(db_session, foyer.id, child_id).school is None


def test_production_s_hash_replaces_a_weaker_one_at_the_next_login(
    db_session: Session, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suite hashes with argon2's cheapest parameters (tests/conftest.py); production with
    RFC 9106's low-memory profile, which upgrades any weaker hash when its password is given."""
    assert credentials.PROFILE == profiles.RFC_9106_LOW_MEMORY
    account = make_account(db_session, clock, Role.FAMILLE)
    assert account.password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    monkeypatch.setattr(credentials, "_hasher", PasswordHasher.from_parameters(credentials.PROFILE))

    authenticate(db_session, clock, account.email, PASSWORD)

    assert account.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert authenticate(db_session, clock, account.email, PASSWORD).id == account.id
