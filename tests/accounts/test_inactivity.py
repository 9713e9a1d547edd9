"""Unused family spaces: two warnings by e-mail, then the space closed and crypto-shredded."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import inactivity
from accounts.credentials import authenticate
from accounts.models import Account, Role
from coffre.clock import FrozenClock
from coffre.journal import chain as journal
from coffre.models import Document, Foyer, JournalEntry
from coffre.vault import Vault
from notifications.models import OutboxMessage
from notifications.templates import INACTIVITY_TEMPLATE, render
from tests.coffre.conftest import deposit
from tests.factories import PASSWORD, make_account

DAY = timedelta(days=1)
BASE_URL = "https://portail.bellerive.example"
UNUSED = 365 * 3 * DAY


def warnings(session: Session) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.template == INACTIVITY_TEMPLATE)
    return list(session.scalars(query.order_by(OutboxMessage.id)))


def run(session: Session, clock: FrozenClock, vault: Vault) -> inactivity.Pass:
    return inactivity.apply(session, clock, vault, BASE_URL)


def test_an_unused_space_is_warned_twice_then_closed_and_shredded(
    db_session: Session, clock: FrozenClock, vault: Vault, foyer: Foyer
) -> None:
    adults = [make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id) for _ in (1, 2)]
    deposit(vault, db_session, foyer)
    foyer_id = foyer.id

    clock.advance(UNUSED - 60 * DAY - timedelta(seconds=1))
    assert run(db_session, clock, vault) == inactivity.Pass(0, [])

    clock.advance(timedelta(seconds=1))  # 60 days before: the first warning, to each adult
    assert run(db_session, clock, vault) == inactivity.Pass(2, [])
    assert run(db_session, clock, vault) == inactivity.Pass(0, [])  # once
    first = warnings(db_session)
    assert sorted(m.recipient for m in first) == sorted(a.email for a in adults)
    subject, body = render(first[0].template, json.loads(first[0].context))
    closing = clock.now() + 60 * DAY
    assert (
        subject
        == "Votre espace famille sera fermé le " + json.loads(first[0].context)["date_fermeture"]
    )
    assert f"{BASE_URL}/connexion" in body and "détruits de façon définitive" in body

    clock.advance(45 * DAY)  # 15 days before: the second
    assert run(db_session, clock, vault) == inactivity.Pass(2, [])
    clock.advance(15 * DAY - timedelta(seconds=1))
    assert run(db_session, clock, vault) == inactivity.Pass(0, [])
    assert db_session.get_one(Foyer, foyer_id).shredded_at is None

    clock.advance(timedelta(seconds=1))
    assert clock.now() == closing
    assert run(db_session, clock, vault) == inactivity.Pass(0, [foyer_id])

    db_session.expire_all()
    assert db_session.get_one(Foyer, foyer_id).shredded_at is not None
    assert db_session.scalars(select(Document).where(Document.foyer_id == foyer_id)).all() == []
    accounts = db_session.scalars(select(Account).where(Account.foyer_id == foyer_id)).all()
    assert [account.is_active for account in accounts] == [False, False]
    shredded = db_session.scalars(
        select(JournalEntry.event).where(JournalEntry.foyer_id == foyer_id)
    ).all()
    assert shredded[-1] == "foyer.shredded"
    assert journal.verify(db_session) == []
    assert run(db_session, clock, vault) == inactivity.Pass(0, [])


def test_a_login_after_a_warning_keeps_the_space(
    db_session: Session, clock: FrozenClock, vault: Vault, foyer: Foyer
) -> None:
    adult = make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id)
    clock.advance(UNUSED - 30 * DAY)
    assert run(db_session, clock, vault).warned == 1

    authenticate(db_session, clock, adult.email, PASSWORD)  # a login, as the page does it
    clock.advance(60 * DAY)

    assert run(db_session, clock, vault) == inactivity.Pass(0, [])
    assert db_session.get_one(Foyer, foyer.id).shredded_at is None


def test_a_late_first_warning_moves_the_closing_so_no_notice_is_cut_short(
    db_session: Session, clock: FrozenClock, vault: Vault, foyer: Foyer
) -> None:
    """The worker was stopped: the first warning goes out 5 days before the date."""
    make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id)
    clock.advance(UNUSED - 5 * DAY)

    assert run(db_session, clock, vault).warned == 1
    clock.advance(10 * DAY)  # past the original date: not closed, the first notice runs
    assert run(db_session, clock, vault) == inactivity.Pass(0, [])
    clock.advance(35 * DAY)  # 15 days before the moved date
    assert run(db_session, clock, vault).warned == 1
    clock.advance(15 * DAY - timedelta(seconds=1))
    assert run(db_session, clock, vault).closed == []
    clock.advance(timedelta(seconds=1))
    assert run(db_session, clock, vault).closed == [foyer.id]


def test_a_foyer_with_one_adult_still_active_is_not_warned(
    db_session: Session, clock: FrozenClock, vault: Vault, foyer: Foyer
) -> None:
    make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id)
    clock.advance(UNUSED)
    recent = make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id)
    assert recent.created_at == clock.now()

    assert run(db_session, clock, vault) == inactivity.Pass(0, [])
    assert warnings(db_session) == []
