"""A family code lets an adult into a foyer with accounts only once an adult of it accepts."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import activation, joining
from accounts.credentials import InvalidCredentials, authenticate
from accounts.joining import JoinRequestNotFound
from accounts.models import Account, JoinRequest, Role
from coffre.clock import FrozenClock
from coffre.models import Foyer
from notifications.outbox import MailSettings, send_due
from tests.factories import PASSWORD, make_account, make_agent
from tests.fixtures import Mailbox
from tests.procedures.flows import journal_of

LINK = "https://famille.ville.example/famille/"
NEWCOMER = "nouvel.adulte@ex.org"


def join(
    session: Session, clock: FrozenClock, foyer: Foyer, issued_by: int | None = None
) -> Account:
    code, one_time = activation.issue_family_code(session, clock, foyer.id, issued_by=issued_by)
    return activation.activate_with_code(
        session,
        clock,
        family_code=code,
        one_time_code=one_time,
        email=NEWCOMER,
        password=PASSWORD,
        link=LINK,
    )


def request_of(session: Session, account: Account) -> JoinRequest:
    return session.scalars(select(JoinRequest).where(JoinRequest.account_id == account.id)).one()


def events(session: Session, foyer_id: int) -> list[tuple[str, int | None]]:
    return [(entry.event, entry.actor_id) for entry in journal_of(session, foyer_id)]


def test_a_code_for_a_foyer_without_an_account_lets_the_adult_in_at_once(
    db_session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    account = join(db_session, clock, foyer)

    assert account.foyer_id == foyer.id and account.is_active
    assert events(db_session, foyer.id) == [("foyer.joined_with_code", account.id)]
    assert db_session.scalars(select(JoinRequest)).all() == []


def test_a_code_for_a_foyer_with_an_account_waits_and_every_adult_is_told(
    db_session: Session,
    clock: FrozenClock,
    foyer: Foyer,
    mail: MailSettings,
    mailbox: Mailbox,
) -> None:
    parents = [make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id) for _ in "ab"]
    agent = make_agent(db_session, clock)

    newcomer = join(db_session, clock, foyer, issued_by=agent.id)

    assert newcomer.foyer_id is None and newcomer.is_active
    assert joining.is_waiting(db_session, newcomer.id)
    assert events(db_session, foyer.id) == [("foyer.join_requested", newcomer.id)]
    [pending] = joining.pending_joins(db_session, foyer.id)
    assert (pending.email, pending.code_issued_by) == (NEWCOMER, agent.display_name)
    assert send_due(db_session, clock, mail) == 2
    for parent in parents:
        [received] = mailbox.to(parent.email)
        assert received["Subject"] == "Une personne demande à rejoindre votre foyer"
        body = received.get_body().get_content()  # type: ignore[union-attr]
        assert f"l'adresse {NEWCOMER} a créé un compte" in body and LINK in body


def test_an_adult_accepts_and_the_newcomer_is_in(
    db_session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    parent = make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id)
    newcomer = join(db_session, clock, foyer)
    request = request_of(db_session, newcomer)

    joining.accept(db_session, clock, request.id, adult_id=parent.id, link=LINK)

    assert newcomer.foyer_id == foyer.id
    assert (request.accepted, request.decided_by) == (True, parent.id)
    assert events(db_session, foyer.id)[-1] == ("foyer.join_accepted", parent.id)
    assert joining.pending_joins(db_session, foyer.id) == []


def test_an_adult_refuses_and_the_account_is_closed(
    db_session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    parent = make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id)
    newcomer = join(db_session, clock, foyer)

    joining.refuse(db_session, clock, request_of(db_session, newcomer).id, adult_id=parent.id)

    assert not newcomer.is_active and newcomer.foyer_id is None
    with pytest.raises(InvalidCredentials):
        authenticate(db_session, clock, NEWCOMER, PASSWORD)
    assert events(db_session, foyer.id)[-1] == ("foyer.join_refused", parent.id)


def test_only_an_adult_of_the_foyer_decides_and_only_once(
    db_session: Session, clock: FrozenClock, foyer: Foyer, other_foyer: Foyer
) -> None:
    parent = make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id)
    stranger = make_account(db_session, clock, Role.FAMILLE, foyer_id=other_foyer.id)
    agent = make_agent(db_session, clock)
    newcomer = join(db_session, clock, foyer)
    request_id = request_of(db_session, newcomer).id

    for someone in (stranger, agent, newcomer):
        with pytest.raises(JoinRequestNotFound):
            joining.accept(db_session, clock, request_id, adult_id=someone.id, link=LINK)
    joining.accept(db_session, clock, request_id, adult_id=parent.id, link=LINK)

    with pytest.raises(JoinRequestNotFound):
        joining.refuse(db_session, clock, request_id, adult_id=parent.id)
    assert newcomer.foyer_id == foyer.id and newcomer.is_active
