"""A child shared by two homes: each foyer books its own weeks, and sees only its own.

The child has a row in each foyer (each with its own account and vault); a `SharedCustody`
links the two rows and says which week is whose, alternating from a Monday agreed at
registration and editable by the service. Neither foyer reads the other's vault, address or
bookings: they stay two foyers, and invoices follow the foyer that booked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from coffre.clock import Clock
from coffre.models import FoyerMember, MemberRole
from reservations.errors import BookingNotFound, BookingRefused
from reservations.models import Activity, Enrolment, SharedCustody


def share(
    session: Session, clock: Clock, first_member_id: int, second_member_id: int, first_monday: date
) -> SharedCustody:
    """Link a child's rows in two foyers; `first_monday` starts a week of the first one."""
    first, second = (
        session.get(FoyerMember, first_member_id),
        session.get(FoyerMember, second_member_id),
    )
    for child in (first, second):
        if child is None or child.role is not MemberRole.ENFANT:
            raise BookingNotFound("Cet enfant est introuvable.")
    assert first is not None and second is not None
    if first.foyer_id == second.foyer_id:
        raise BookingRefused("Les deux foyers d'une garde alternée doivent être différents.")
    if first_monday.weekday() != 0:
        raise BookingRefused("L'alternance commence un lundi.")
    taken = session.scalar(
        select(SharedCustody.id).where(
            or_(
                SharedCustody.first_member_id.in_([first.id, second.id]),
                SharedCustody.second_member_id.in_([first.id, second.id]),
            )
        )
    )
    if taken is not None:
        raise BookingRefused("Cet enfant a déjà une garde alternée : modifiez-la.")
    custody = SharedCustody(
        first_member_id=first.id,
        second_member_id=second.id,
        first_monday=first_monday,
        updated_at=clock.now(),
    )
    session.add(custody)
    session.flush()
    return custody


@dataclass(frozen=True)
class CustodyLine:
    """A shared custody as the service sees it: the child's two rows, never an address."""

    custody: SharedCustody
    first: FoyerMember
    second: FoyerMember


def of_services(session: Session, service_ids: frozenset[int]) -> list[CustodyLine]:
    """The shared custodies of children enrolled in an activity of these services."""
    enrolled = (
        select(Enrolment.member_id)
        .join(Activity, Activity.id == Enrolment.activity_id)
        .where(Activity.service_id.in_(service_ids))
    )
    first, second = aliased(FoyerMember), aliased(FoyerMember)
    rows = session.execute(
        select(SharedCustody, first, second)
        .join(first, first.id == SharedCustody.first_member_id)
        .join(second, second.id == SharedCustody.second_member_id)
        .where(
            or_(
                SharedCustody.first_member_id.in_(enrolled),
                SharedCustody.second_member_id.in_(enrolled),
            )
        )
        .order_by(first.last_name, first.first_name, SharedCustody.id)
    )
    return [CustodyLine(*row) for row in rows]


def custody_for(session: Session, service_ids: frozenset[int], custody_id: int) -> SharedCustody:
    """The custody, if a child of it is enrolled in these services' activities."""
    for line in of_services(session, service_ids):
        if line.custody.id == custody_id:
            return line.custody
    raise BookingNotFound("Cette garde alternée est introuvable.")


def change_alternation(
    session: Session, clock: Clock, service_ids: frozenset[int], custody_id: int, first_monday: date
) -> SharedCustody:
    """The service moves the alternation (holidays split differently, a new agreement); only
    for a child enrolled in one of its activities. The caller commits."""
    custody = custody_for(session, service_ids, custody_id)
    if first_monday.weekday() != 0:
        raise BookingRefused("L'alternance commence un lundi.")
    custody.first_monday, custody.updated_at = first_monday, clock.now()
    return custody


def custody_of(session: Session, member_id: int) -> SharedCustody | None:
    return session.scalar(
        select(SharedCustody).where(
            or_(
                SharedCustody.first_member_id == member_id,
                SharedCustody.second_member_id == member_id,
            )
        )
    )


def at_home(custody: SharedCustody | None, member_id: int, day: date) -> bool:
    """Whether the child's row `member_id` has the child on `day` (always, unshared)."""
    if custody is None:
        return True
    first_weeks = (day - custody.first_monday).days // 7 % 2 == 0
    return first_weeks == (member_id == custody.first_member_id)
