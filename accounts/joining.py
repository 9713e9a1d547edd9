"""An adult joining a foyer with a family code, and the confirmation of the foyer's adults.

A family code is printed at the counter and handed on paper: whoever holds it could create
an account in the foyer. So a code opens a foyer directly only while the foyer has no
family account yet (a household created at the counter). Once it has one, the new account
belongs to no foyer until an adult of the foyer accepts it from the family space: it sees
none of the foyer's documents, demandes or export meanwhile. Every adult of the foyer is
e-mailed when someone asks to join; refused, the new account is closed. Each step is in
the foyer's journal: the request under the new account, the decision under the adult who
took it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from accounts.family import family_accounts
from accounts.models import Account, FamilyCode, JoinRequest, Role
from coffre.clock import Clock
from coffre.journal import chain as journal
from coffre.models import Foyer
from notifications.outbox import enqueue
from notifications.templates import (
    JOIN_ACCEPTED_TEMPLATE,
    JOIN_REFUSED_TEMPLATE,
    JOIN_REQUEST_TEMPLATE,
)


class JoinRequestNotFound(Exception):
    """No undecided request of this foyer with this id, or the account may not decide it."""


@dataclass(frozen=True)
class PendingJoin:
    """Someone waiting to join the foyer, as its adults see them on the family space."""

    id: int
    email: str
    asked_at: datetime
    code_issued_by: str | None  # the agent who printed the code, if it was printed at the counter
    code_issued_at: datetime | None


def join_with_code(
    session: Session, clock: Clock, account: Account, code: FamilyCode, *, link: str
) -> None:
    """Put a new account, created with the family code `code`, in the code's foyer.

    A foyer without a family account takes it at once. Otherwise the account waits, in no
    foyer, for an adult's confirmation, and every adult is e-mailed (`link`: the family
    space's address). Journaled; the caller commits.
    """
    session.flush()  # the account's id, for the journal and the request
    adults = family_accounts(session, code.foyer_id)
    if not adults:
        account.foyer_id = code.foyer_id
        journal.record(
            session,
            clock,
            "foyer.joined_with_code",
            foyer_id=code.foyer_id,
            actor_id=account.id,
            details={"code": code.id},
        )
        return
    account.foyer_id = None
    request = JoinRequest(
        account_id=account.id,
        foyer_id=code.foyer_id,
        family_code_id=code.id,
        created_at=clock.now(),
    )
    session.add(request)
    session.flush()
    journal.record(
        session,
        clock,
        "foyer.join_requested",
        foyer_id=code.foyer_id,
        actor_id=account.id,
        details={"code": code.id, "request": request.id},
    )
    for adult in adults:
        enqueue(
            session,
            clock,
            key=f"rejoindre:{request.id}:{adult.id}",
            recipient=adult.email,
            template=JOIN_REQUEST_TEMPLATE,
            context={"personne": account.email, "lien": link},
        )


def pending_joins(session: Session, foyer_id: int) -> list[PendingJoin]:
    """The undecided requests to join the foyer, oldest first."""
    agent = aliased(Account)
    rows = session.execute(
        select(JoinRequest.id, Account.email, JoinRequest.created_at)
        .add_columns(agent.display_name, FamilyCode.created_at)
        .join(Account, Account.id == JoinRequest.account_id)
        .outerjoin(FamilyCode, FamilyCode.id == JoinRequest.family_code_id)
        .outerjoin(agent, agent.id == FamilyCode.issued_by)
        .where(JoinRequest.foyer_id == foyer_id, JoinRequest.decided_at.is_(None))
        .where(Account.is_active.is_(True))
        .order_by(JoinRequest.id)
    )
    return [PendingJoin(*row) for row in rows]


def is_waiting(session: Session, account_id: int) -> bool:
    """Whether the account waits for a foyer's adults to accept it."""
    found = session.scalar(
        select(JoinRequest.id).where(
            JoinRequest.account_id == account_id, JoinRequest.decided_at.is_(None)
        )
    )
    return found is not None


def accept(session: Session, clock: Clock, request_id: int, *, adult_id: int, link: str) -> None:
    """An adult of the foyer lets the account in; journaled, the newcomer told; commits.

    JoinRequestNotFound unless `adult_id` is an active family account of the request's
    foyer and the request is still undecided.
    """
    request, newcomer = _decidable(session, request_id, adult_id)
    newcomer.foyer_id = request.foyer_id
    _decide(session, clock, request, adult_id, accepted=True)
    enqueue(
        session,
        clock,
        key=f"rejoint:{request.id}",
        recipient=newcomer.email,
        template=JOIN_ACCEPTED_TEMPLATE,
        context={"lien": link},
    )
    session.commit()


def refuse(session: Session, clock: Clock, request_id: int, *, adult_id: int) -> None:
    """An adult of the foyer turns the account away: it is closed, and told; commits.

    JoinRequestNotFound as for `accept`. The closed account keeps its address, on record
    with the request: whoever used the code can be traced.
    """
    request, newcomer = _decidable(session, request_id, adult_id)
    newcomer.is_active = False
    _decide(session, clock, request, adult_id, accepted=False)
    enqueue(
        session,
        clock,
        key=f"rejoindre-refuse:{request.id}",
        recipient=newcomer.email,
        template=JOIN_REFUSED_TEMPLATE,
        context={},
    )
    session.commit()


def _decidable(session: Session, request_id: int, adult_id: int) -> tuple[JoinRequest, Account]:
    request = session.get(JoinRequest, request_id)
    adult = session.get(Account, adult_id)
    if request is None or adult is None or request.decided_at is not None:
        raise JoinRequestNotFound()
    is_adult_of_foyer = (
        adult.role is Role.FAMILLE and adult.is_active and adult.foyer_id == request.foyer_id
    )
    foyer = session.get(Foyer, request.foyer_id)
    newcomer = session.get(Account, request.account_id)
    if not is_adult_of_foyer or foyer is None or foyer.shredded_at is not None:
        raise JoinRequestNotFound()
    if newcomer is None or not newcomer.is_active or newcomer.foyer_id is not None:
        raise JoinRequestNotFound()
    return request, newcomer


def _decide(
    session: Session, clock: Clock, request: JoinRequest, adult_id: int, *, accepted: bool
) -> None:
    request.decided_at = clock.now()
    request.decided_by = adult_id
    request.accepted = accepted
    journal.record(
        session,
        clock,
        "foyer.join_accepted" if accepted else "foyer.join_refused",
        foyer_id=request.foyer_id,
        actor_id=adult_id,
        details={"account": request.account_id, "request": request.id},
    )
