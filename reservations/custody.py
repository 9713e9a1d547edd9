"""A child shared by two homes: each foyer books its own weeks, and sees only its own.

The child has a row in each foyer (each with its own account and vault); a `SharedCustody`
links the two rows and says which week is whose, alternating from a Monday agreed at
registration and editable by the service. Neither foyer reads the other's vault, address or
bookings: they stay two foyers, and invoices follow the foyer that booked.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from coffre.clock import Clock
from coffre.models import FoyerMember, MemberRole
from reservations.errors import BookingNotFound, BookingRefused
from reservations.models import SharedCustody


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


def change_alternation(
    session: Session, clock: Clock, custody_id: int, first_monday: date
) -> SharedCustody:
    """The service moves the alternation (holidays split differently, a new agreement)."""
    custody = session.get(SharedCustody, custody_id)
    if custody is None:
        raise BookingNotFound("Cette garde alternée est introuvable.")
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
