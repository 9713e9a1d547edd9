from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
from sqlalchemy.orm import Session

from accounts import second_factor
from accounts.models import Account, Role
from coffre.clock import FrozenClock
from coffre.keyring import KEY_BYTES, Keyring
from tests.factories import make_account

STEP = timedelta(seconds=30)


def _code(secret: str, clock: FrozenClock, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now() + steps * STEP)


def _enrolled(
    session: Session, clock: FrozenClock, keyring: Keyring, role: Role = Role.AGENT
) -> tuple[Account, str]:
    account = make_account(session, clock, role)
    secret = second_factor.start_enrolment(session, keyring, account.id).secret
    second_factor.confirm_enrolment(
        session, clock, keyring, account.id, _code(secret, clock, steps=-1)
    )
    return account, secret


def test_enrolment_gives_a_provisioning_uri_and_counts_only_once_confirmed(
    db_session: Session, clock: FrozenClock, keyring: Keyring
) -> None:
    account = make_account(db_session, clock, Role.ADMIN)

    enrolment = second_factor.start_enrolment(db_session, keyring, account.id)

    uri = urlsplit(enrolment.uri)
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert unquote(uri.path) == f"/Portail Famille:{account.email}"
    assert parse_qs(uri.query) == {"secret": [enrolment.secret], "issuer": ["Portail Famille"]}
    assert not second_factor.is_enrolled(account)
    assert enrolment.secret not in repr(enrolment)

    second_factor.confirm_enrolment(
        db_session, clock, keyring, account.id, _code(enrolment.secret, clock)
    )

    assert second_factor.is_enrolled(account)
    assert account.totp_confirmed_at == clock.now()
    with pytest.raises(second_factor.AlreadyEnrolled):
        second_factor.start_enrolment(db_session, keyring, account.id)


def test_the_secret_is_stored_sealed_and_the_pending_one_is_shown_again(
    db_session: Session, clock: FrozenClock, keyring: Keyring
) -> None:
    account = make_account(db_session, clock, Role.AGENT)

    first = second_factor.start_enrolment(db_session, keyring, account.id)
    again = second_factor.start_enrolment(db_session, keyring, account.id)

    assert again.secret == first.secret
    sealed = account.totp_secret_encrypted or ""
    assert sealed.startswith(f"{keyring.current_version}:")
    assert first.secret not in sealed
    assert first.secret.encode() not in sealed.encode()


def test_a_wrong_code_does_not_confirm_the_enrolment(
    db_session: Session, clock: FrozenClock, keyring: Keyring
) -> None:
    account = make_account(db_session, clock, Role.AGENT)
    secret = second_factor.start_enrolment(db_session, keyring, account.id).secret
    wrong = f"{(int(_code(secret, clock)) + 1) % 1_000_000:06d}"

    for code in (wrong, "12345", "abcdef", ""):
        with pytest.raises(second_factor.InvalidCode):
            second_factor.confirm_enrolment(db_session, clock, keyring, account.id, code)

    assert not second_factor.is_enrolled(account)
    with pytest.raises(second_factor.NotEnrolled):
        second_factor.verify_code(db_session, clock, keyring, account.id, _code(secret, clock))


@pytest.mark.parametrize(("steps", "accepted"), [(-2, False), (-1, True), (1, True), (2, False)])
def test_codes_are_accepted_one_time_step_early_or_late(
    db_session: Session, clock: FrozenClock, keyring: Keyring, steps: int, accepted: bool
) -> None:
    account, secret = _enrolled(db_session, clock, keyring)
    clock.advance(5 * STEP)  # past the step the enrolment used
    code = _code(secret, clock, steps)

    if accepted:
        second_factor.verify_code(db_session, clock, keyring, account.id, code)
    else:
        with pytest.raises(second_factor.InvalidCode):
            second_factor.verify_code(db_session, clock, keyring, account.id, code)


def test_a_code_is_accepted_once_and_older_steps_are_refused_after_it(
    db_session: Session, clock: FrozenClock, keyring: Keyring
) -> None:
    account, secret = _enrolled(db_session, clock, keyring)
    now, earlier = _code(secret, clock), _code(secret, clock, steps=-1)

    second_factor.verify_code(db_session, clock, keyring, account.id, now[:3] + " " + now[3:])

    for replayed in (now, earlier):
        with pytest.raises(second_factor.InvalidCode):
            second_factor.verify_code(db_session, clock, keyring, account.id, replayed)
    clock.advance(STEP)
    second_factor.verify_code(db_session, clock, keyring, account.id, _code(secret, clock))


def test_the_enrolment_code_cannot_be_replayed_at_login(
    db_session: Session, clock: FrozenClock, keyring: Keyring
) -> None:
    account = make_account(db_session, clock, Role.AGENT)
    secret = second_factor.start_enrolment(db_session, keyring, account.id).secret
    code = _code(secret, clock)
    second_factor.confirm_enrolment(db_session, clock, keyring, account.id, code)

    with pytest.raises(second_factor.InvalidCode):
        second_factor.verify_code(db_session, clock, keyring, account.id, code)


def test_a_sealed_secret_copied_to_another_account_does_not_open(
    db_session: Session, clock: FrozenClock, keyring: Keyring
) -> None:
    victim, secret = _enrolled(db_session, clock, keyring)
    intruder, _ = _enrolled(db_session, clock, keyring)
    intruder.totp_secret_encrypted = victim.totp_secret_encrypted
    db_session.commit()

    with pytest.raises(second_factor.SecondFactorError) as raised:
        second_factor.verify_code(db_session, clock, keyring, intruder.id, _code(secret, clock, 1))

    assert secret not in str(raised.value)


def test_secrets_sealed_before_a_key_rotation_still_open(
    db_session: Session, clock: FrozenClock, keyring: Keyring
) -> None:
    account, secret = _enrolled(db_session, clock, keyring)
    rotated = Keyring(
        keys=keyring.keys | {keyring.current_version + 1: secrets.token_bytes(KEY_BYTES)},
        source="rotated",
    )

    second_factor.verify_code(db_session, clock, rotated, account.id, _code(secret, clock))
    newcomer = make_account(db_session, clock, Role.AGENT)
    second_factor.start_enrolment(db_session, rotated, newcomer.id)

    assert (newcomer.totp_secret_encrypted or "").startswith(f"{rotated.current_version}:")


def test_reset_makes_the_account_enrol_again_with_a_new_secret(
    db_session: Session, clock: FrozenClock, keyring: Keyring
) -> None:
    account, secret = _enrolled(db_session, clock, keyring)

    second_factor.reset_second_factor(db_session, account.id)

    assert not second_factor.is_enrolled(account)
    assert account.totp_last_counter is None
    assert second_factor.start_enrolment(db_session, keyring, account.id).secret != secret


def test_families_and_disabled_accounts_have_no_second_factor(
    db_session: Session, clock: FrozenClock, keyring: Keyring
) -> None:
    family = make_account(db_session, clock, Role.FAMILLE)
    disabled = make_account(db_session, clock, Role.AGENT)
    disabled.is_active = False
    db_session.commit()

    assert not second_factor.requires_second_factor(Role.FAMILLE)
    assert second_factor.requires_second_factor(Role.AGENT)
    assert second_factor.requires_second_factor(Role.ADMIN)
    for account in (family, disabled):
        with pytest.raises(second_factor.UnknownAccount):
            second_factor.start_enrolment(db_session, keyring, account.id)
