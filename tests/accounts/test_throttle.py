"""Login throttling: the wait grows with failures, ends with the clock, and a reset lifts it.

Every test runs on both stores: the database table and Redis.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.credentials import InvalidCredentials
from accounts.models import Account, LoginFailures, Role
from accounts.throttle import (
    DatabaseFailureStore,
    FailureStore,
    LoginBlocked,
    LoginThrottle,
    RedisFailureStore,
)
from coffre.clock import FrozenClock
from tests.conftest import REDIS_URL
from tests.factories import PASSWORD, make_account

SECRET = "a-test-secret-of-at-least-32-characters"
ADDRESS = "192.0.2.10"
WRONG = "not the password at all"


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.redis)])
def failure_store(request: pytest.FixtureRequest, db_session: Session) -> Iterator[FailureStore]:
    if request.param == "database":
        yield DatabaseFailureStore(db_session)
        return
    prefix = request.getfixturevalue("redis_prefix")
    store = RedisFailureStore.from_url(REDIS_URL, f"{prefix}:login:")
    yield store
    store.client.close()


@pytest.fixture
def throttle(failure_store: FailureStore, clock: FrozenClock) -> LoginThrottle:
    return LoginThrottle(failure_store, clock, SECRET)


@pytest.fixture
def family(db_session: Session, clock: FrozenClock) -> Account:
    return make_account(db_session, clock, Role.FAMILLE)


def fail(throttle: LoginThrottle, session: Session, email: str, times: int = 1) -> None:
    """Count failed logins: the first through a real wrong password, the others directly
    (each argon2 check takes a tenth of a second)."""
    with pytest.raises(InvalidCredentials):
        throttle.authenticate(session, email, WRONG, ADDRESS)
    for _ in range(times - 1):
        throttle.record_failure(email, ADDRESS)


def fail_patiently(
    throttle: LoginThrottle, session: Session, email: str, clock: FrozenClock, times: int
) -> None:
    """Fail `times` times, each after the wait the previous failures imposed."""
    for _ in range(times):
        until = throttle.blocked_until(email, ADDRESS)
        if until is not None:
            clock.current = until
        throttle.record_failure(email, ADDRESS)


def test_the_wait_grows_after_five_failures_then_stops_at_fifteen_minutes(
    throttle: LoginThrottle, db_session: Session, family: Account, clock: FrozenClock
) -> None:
    fail(throttle, db_session, family.email, 4)
    assert throttle.blocked_until(family.email, ADDRESS) is None

    waits = []
    for _ in range(6):
        throttle.record_failure(family.email, ADDRESS)
        until = throttle.blocked_until(family.email, ADDRESS)
        assert until is not None
        waits.append(until - clock.now())
        clock.advance(until - clock.now())
        assert throttle.blocked_until(family.email, ADDRESS) is None

    assert [wait // timedelta(minutes=1) for wait in waits] == [1, 2, 4, 8, 15, 15]


def test_a_login_tried_while_blocked_is_refused_even_right_and_counts_for_nothing(
    throttle: LoginThrottle, db_session: Session, family: Account, clock: FrozenClock
) -> None:
    fail(throttle, db_session, family.email, 5)
    until = throttle.blocked_until(family.email, ADDRESS)

    for password in (PASSWORD, WRONG):
        with pytest.raises(LoginBlocked) as blocked:
            throttle.authenticate(db_session, family.email.upper(), password, ADDRESS)
        assert blocked.value.until == until
    assert throttle.blocked_until(family.email, ADDRESS) == until


def test_the_owner_gets_in_once_the_wait_is_over_and_starts_afresh(
    throttle: LoginThrottle, db_session: Session, family: Account, clock: FrozenClock
) -> None:
    fail_patiently(throttle, db_session, family.email, clock, 7)
    until = throttle.blocked_until(family.email, ADDRESS)
    assert until is not None
    clock.current = until

    assert throttle.authenticate(db_session, family.email, PASSWORD, ADDRESS).id == family.id
    fail(throttle, db_session, family.email, 4)
    assert throttle.blocked_until(family.email, ADDRESS) is None


def test_a_password_reset_lifts_the_accounts_block_at_once(
    throttle: LoginThrottle, db_session: Session, family: Account, clock: FrozenClock
) -> None:
    fail_patiently(throttle, db_session, family.email, clock, 9)
    assert throttle.blocked_until(family.email, ADDRESS) is not None

    throttle.forget_account(family.email)

    assert throttle.blocked_until(family.email, ADDRESS) is None
    assert throttle.authenticate(db_session, family.email, PASSWORD, ADDRESS).id == family.id


def test_failures_are_forgotten_an_hour_after_the_last(
    throttle: LoginThrottle, db_session: Session, family: Account, clock: FrozenClock
) -> None:
    fail(throttle, db_session, family.email, 4)
    clock.advance(timedelta(hours=1, seconds=1))

    fail(throttle, db_session, family.email, 4)

    assert throttle.blocked_until(family.email, ADDRESS) is None


def test_one_address_trying_many_accounts_is_blocked_after_twenty_failures(
    throttle: LoginThrottle, db_session: Session, family: Account, clock: FrozenClock
) -> None:
    fail(throttle, db_session, "visitor@test.example")
    for number in range(19):
        throttle.record_failure(f"visitor{number}@test.example", ADDRESS)

    with pytest.raises(LoginBlocked):
        throttle.authenticate(db_session, family.email, PASSWORD, ADDRESS)
    # A reset clears the account's counter, never the address's.
    throttle.forget_account(family.email)
    assert throttle.blocked_until(family.email, ADDRESS) == clock.now() + timedelta(minutes=1)
    assert throttle.blocked_until(family.email, "198.51.100.7") is None


def test_counters_of_different_secrets_or_accounts_are_apart(
    failure_store: FailureStore, db_session: Session, family: Account, clock: FrozenClock
) -> None:
    throttle = LoginThrottle(failure_store, clock, SECRET)
    fail(throttle, db_session, family.email, 5)

    assert throttle.blocked_until("other@test.example", "198.51.100.7") is None
    other_portal = LoginThrottle(failure_store, clock, "another-secret-of-32-characters-at-least")
    assert other_portal.blocked_until(family.email, "198.51.100.7") is None


def test_the_table_holds_neither_e_mail_nor_address(
    db_session: Session, family: Account, clock: FrozenClock
) -> None:
    throttle = LoginThrottle(DatabaseFailureStore(db_session), clock, SECRET)
    fail(throttle, db_session, family.email, 2)

    keys = db_session.scalars(select(LoginFailures.key)).all()

    assert len(keys) == 2
    assert not any(family.email in key or ADDRESS in key for key in keys)


def test_the_table_forgets_stale_counters_as_new_failures_come(
    db_session: Session, family: Account, clock: FrozenClock
) -> None:
    throttle = LoginThrottle(DatabaseFailureStore(db_session), clock, SECRET)
    fail(throttle, db_session, "someone@test.example")
    clock.advance(timedelta(hours=2))

    fail(throttle, db_session, family.email)

    rows = db_session.scalars(select(LoginFailures)).all()
    assert [row.last_failure_at for row in rows] == [clock.now(), clock.now()]
