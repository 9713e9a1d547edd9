"""A document shared on from a demande with the teams of a child's school.

A child's individualised care plan (PAI), once the school doctor validated it, must be
known to the people who feed and look after the child: the canteen and after-school teams
of the child's own school, and nobody else. The family granted the plan to its PAI
demande (`coffre.consent`); the share extends that consent, for the document and its
demande only, to the services named when the plan was validated, until the end of the
school year. A team's agent reads it only while all of that holds:

- the share is not ended and its last day has not passed;
- the family's grant of the document to the demande is still in force (ended with the
  demande's retention period, like every consent);
- the agent belongs to the shared service.

Services and schools live in `accounts` (above): the vault knows a service by its id and
a school by its name. The read itself goes through `coffre.consent.check_access` and is
logged and journaled like every other; the family sees each share and each read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import ColumnElement, and_, exists, select
from sqlalchemy.orm import Session

from coffre.clock import Clock
from coffre.errors import ConsentError
from coffre.journal import chain as journal
from coffre.models import Document, Grant, TeamShare

SHARED_EVENT = "document.shared_with_team"


def in_force(service_ids: Iterable[int], today: date) -> ColumnElement[bool]:
    """SQL condition on `TeamShare`: a share with one of these services that holds today."""
    granted = exists().where(
        Grant.document_id == TeamShare.document_id,
        Grant.demande_id == TeamShare.demande_id,
        Grant.revoked_at.is_(None),
    )
    return and_(
        TeamShare.service_id.in_(list(service_ids)),
        TeamShare.ended_at.is_(None),
        TeamShare.valid_until >= today,
        granted,
    )


def readable_by_team(service_ids: Iterable[int], today: date) -> ColumnElement[bool]:
    """SQL condition on `Document`: shared with one of these services, in force today."""
    return exists().where(TeamShare.document_id == Document.id, in_force(service_ids, today))


def reading_share(
    session: Session, service_ids: Iterable[int], document_id: int, today: date
) -> TeamShare | None:
    """The share in force that lets one of these services read the document (for the log)."""
    return session.scalar(
        select(TeamShare)
        .where(TeamShare.document_id == document_id, in_force(service_ids, today))
        .order_by(TeamShare.id)
        .limit(1)
    )


def share(
    session: Session,
    clock: Clock,
    document: Document,
    demande_id: int,
    school: str,
    service_ids: Sequence[int],
    valid_until: date,
) -> list[TeamShare]:
    """Share a document granted to the demande with these services until `valid_until`
    (idempotent per service); journaled once. ConsentError when the family did not grant
    the document to the demande."""
    granted = session.scalar(
        select(Grant.id).where(
            Grant.document_id == document.id,
            Grant.demande_id == demande_id,
            Grant.revoked_at.is_(None),
        )
    )
    if granted is None:
        raise ConsentError(f"document {document.id} is not granted to demande {demande_id}")
    current = {
        s.service_id: s
        for s in shares_of(session, document.foyer_id, demande_id)
        if s.document_id == document.id
    }
    new = [
        TeamShare(
            document_id=document.id, demande_id=demande_id, foyer_id=document.foyer_id,
            member_id=document.member_id, service_id=service_id, school=school,
            shared_at=clock.now(), valid_until=valid_until,
        )
        for service_id in dict.fromkeys(service_ids)
        if service_id not in current
    ]  # fmt: skip
    session.add_all(new)
    if new:
        journal.record(
            session, clock, SHARED_EVENT, foyer_id=document.foyer_id, actor_id=None,
            document_id=document.id, demande_id=demande_id,
            details={
                "services": ",".join(str(s.service_id) for s in new),
                "until": valid_until.isoformat(),
            },
        )  # fmt: skip
    return [*current.values(), *new]


def shares_of(session: Session, foyer_id: int, demande_id: int) -> list[TeamShare]:
    """The shares made from one of the foyer's demandes, in force or not, oldest first."""
    return list(
        session.scalars(
            select(TeamShare)
            .where(TeamShare.foyer_id == foyer_id, TeamShare.demande_id == demande_id)
            .order_by(TeamShare.id)
        )
    )


def shared_with(session: Session, service_ids: Iterable[int], today: date) -> list[TeamShare]:
    """The shares in force today with these services, by school then newest first."""
    return list(
        session.scalars(
            select(TeamShare)
            .where(in_force(service_ids, today))
            .order_by(TeamShare.school, TeamShare.shared_at.desc(), TeamShare.id)
        )
    )
