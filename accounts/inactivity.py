"""Family spaces left unused: warned twice by e-mail, then closed and crypto-shredded.

A foyer's space is unused when none of its active family accounts has logged in for the
configured time (`INACTIVE_ACCOUNT_DAYS`, 3 years by default), counted from the latest
login of any of them (or the account's creation, for one never used). Its adults are warned
60 days, then 15 days, before the closing date; the space is closed on that date only if
both warnings went out, the second at least 14 days before, so a family is never closed
without notice (a worker stopped for a month delays the closing, it does not skip a warning).
Any login moves the date: the warnings of an earlier date no longer count. Closing is what
the family's own "delete my space" does: the foyer's key destroyed first, then its rows
and blobs, then its accounts deactivated; the journal keeps its ids-only entries.

Foyers with no family account (made at the counter, never opened online) are the counter's
to manage and are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.credentials import close_foyer_accounts
from accounts.family import family_accounts
from accounts.models import Account, Role
from coffre.clock import PARIS, Clock
from coffre.models import Foyer
from coffre.vault import Vault
from notifications import outbox, templates
from notifications.models import OutboxMessage

INACTIVE_DAYS = 365 * 3
FIRST_WARNING = timedelta(days=60)  # before the closing date
SECOND_WARNING = timedelta(days=15)
NOTICE = timedelta(days=14)  # the least time between the second warning and the closing


@dataclass(frozen=True)
class Unused:
    """A foyer whose space goes unused, and when it closes."""

    foyer_id: int
    last_used: datetime
    closes_at: datetime


@dataclass(frozen=True)
class Pass:
    warned: int  # e-mails queued
    closed: list[int]  # foyers closed


def unused(session: Session, now: datetime, inactive_days: int = INACTIVE_DAYS) -> list[Unused]:
    """The foyers with family accounts, none used since the first warning's date."""
    last_used = func.max(func.coalesce(Account.last_login_at, Account.created_at))
    query = (
        select(Account.foyer_id, last_used.label("last_used"))
        .join(Foyer, Foyer.id == Account.foyer_id)
        .where(
            Account.role == Role.FAMILLE,
            Account.is_active.is_(True),
            Foyer.shredded_at.is_(None),
        )
        .group_by(Account.foyer_id)
        .having(last_used <= now - timedelta(days=inactive_days) + FIRST_WARNING)
        .order_by(Account.foyer_id)
    )
    span = timedelta(days=inactive_days)
    return [
        Unused(row.foyer_id, row.last_used, row.last_used + span) for row in session.execute(query)
    ]


def apply(
    session: Session,
    clock: Clock,
    vault: Vault,
    base_url: str,
    inactive_days: int = INACTIVE_DAYS,
) -> Pass:
    """Warn and close (see the module); commits."""
    now = clock.now()
    warned, closed = 0, []
    for foyer in unused(session, now, inactive_days):
        first = _queued_at(session, foyer, 1)
        if first is None:
            closing = max(foyer.closes_at, now + FIRST_WARNING)
            warned += _warn(session, clock, foyer, 1, closing, base_url)
        else:
            closing = max(foyer.closes_at, first + FIRST_WARNING)
            second = _queued_at(session, foyer, 2)
            if second is None and now >= closing - SECOND_WARNING:
                warned += _warn(session, clock, foyer, 2, max(closing, now + NOTICE), base_url)
            elif second is not None and now >= max(closing, second + NOTICE):
                vault.shred_foyer(session, foyer.foyer_id, None)  # commits
                close_foyer_accounts(session, foyer.foyer_id)  # commits
                closed.append(foyer.foyer_id)
        session.commit()
    return Pass(warned, closed)


def _warning_key(foyer: Unused, number: int) -> str:
    # The last use is in the key: a login gives a new date, and warnings of their own.
    return f"inactivity:{foyer.foyer_id}:{foyer.last_used.isoformat()}:{number}:"


def _queued_at(session: Session, foyer: Unused, number: int) -> datetime | None:
    """When this warning first went to the outbox, if it did."""
    key = OutboxMessage.idempotency_key.startswith(_warning_key(foyer, number), autoescape=True)
    return session.scalar(select(func.min(OutboxMessage.created_at)).where(key))


def _warn(
    session: Session,
    clock: Clock,
    foyer: Unused,
    number: int,
    closes_at: datetime,
    base_url: str,
) -> int:
    context = {
        "date_fermeture": templates.date_fr(_day(closes_at)),
        "lien": f"{base_url.rstrip('/')}/connexion",
    }
    queued = 0
    for account in family_accounts(session, foyer.foyer_id):
        queued += outbox.enqueue(
            session,
            clock,
            key=f"{_warning_key(foyer, number)}{account.id}",
            recipient=account.email,
            template=templates.INACTIVITY_TEMPLATE,
            context=context,
        )
    return queued


def _day(moment: datetime) -> date:
    return moment.astimezone(PARIS).date()
