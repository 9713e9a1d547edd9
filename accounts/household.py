"""The household file: a foyer's members, its children's details, its address."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.credentials import AccountError
from accounts.models import Account, FamilyCode
from coffre.models import Foyer, FoyerMember, MemberRole


@dataclass(frozen=True)
class HouseholdMember:
    id: int
    role: MemberRole
    first_name: str
    last_name: str
    birth_date: date | None
    school: str | None = None
    has_pai: bool = False
    allergies: str | None = None


def _member_view(member: FoyerMember) -> HouseholdMember:
    return HouseholdMember(
        member.id,
        member.role,
        member.first_name,
        member.last_name,
        member.birth_date,
        member.school,
        member.has_pai,
        member.allergies,
    )


@dataclass(frozen=True)
class Household:
    """A foyer as its file page shows it: read-only income bracket included."""

    label: str
    address_line: str
    postal_code: str
    city: str
    adults: list[HouseholdMember]
    children: list[HouseholdMember]
    account_emails: list[str]
    quotient_familial: int | None
    tranche_qf: str | None
    qf_valid_until: date | None
    # The code the town gave the foyer (at the counter), with which its adults may also sign
    # in, each with their own password; None for a foyer that never was given one.
    family_code: str | None = None
    phone: str | None = None  # set by a checked change of situation


class FoyerNotFound(AccountError):
    """No such foyer, or it was shredded."""


class ChildNotFound(AccountError):
    """No such child in this foyer."""


class InvalidChildDetails(AccountError):
    """A child's school or allergies cannot be recorded; `field` names the culprit."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


class DetailTooLong(InvalidChildDetails):
    """The school's name or the allergies' description is longer than the column."""


class PaiWithoutAllergies(InvalidChildDetails):
    """A PAI is declared but nothing says what it covers, so the canteen cannot act on it."""

    def __init__(self) -> None:
        super().__init__("allergies")


SCHOOL_MAX = 200
ALLERGIES_MAX = 500


def _live_foyer(session: Session, foyer_id: int) -> Foyer:
    foyer = session.get(Foyer, foyer_id)
    if foyer is None or foyer.shredded_at is not None:
        raise FoyerNotFound()
    return foyer


def household(session: Session, foyer_id: int) -> Household:
    """The household file of a foyer."""
    foyer = _live_foyer(session, foyer_id)
    members = [_member_view(m) for m in foyer.members]
    emails = session.scalars(
        select(Account.email).where(Account.foyer_id == foyer_id, Account.is_active)
    )
    return Household(
        label=foyer.label,
        address_line=foyer.address_line,
        postal_code=foyer.postal_code,
        city=foyer.city,
        adults=[m for m in members if m.role is MemberRole.ADULTE],
        children=[m for m in members if m.role is MemberRole.ENFANT],
        account_emails=sorted(emails),
        quotient_familial=foyer.quotient_familial,
        tranche_qf=foyer.tranche_qf,
        qf_valid_until=foyer.qf_valid_until,
        phone=foyer.phone,
        family_code=session.scalar(
            select(FamilyCode.code)
            .where(FamilyCode.foyer_id == foyer_id)
            .order_by(FamilyCode.created_at.desc(), FamilyCode.id.desc())
            .limit(1)
        ),
    )


def _child_details(
    school: str | None, has_pai: bool, allergies: str | None
) -> tuple[str | None, bool, str | None]:
    """The details as stored: trimmed, blank as None; refused when too long or incomplete."""
    school = (school or "").strip() or None
    allergies = (allergies or "").strip() or None
    if school is not None and len(school) > SCHOOL_MAX:
        raise DetailTooLong("school")
    if allergies is not None and len(allergies) > ALLERGIES_MAX:
        raise DetailTooLong("allergies")
    if has_pai and allergies is None:
        raise PaiWithoutAllergies()
    return school, has_pai, allergies


def add_child(
    session: Session,
    foyer_id: int,
    *,
    first_name: str,
    last_name: str,
    birth_date: date,
    school: str | None = None,
    has_pai: bool = False,
    allergies: str | None = None,
) -> int:
    """Add a child to a foyer; commits and returns the member's id."""
    foyer = _live_foyer(session, foyer_id)
    school, has_pai, allergies = _child_details(school, has_pai, allergies)
    child = FoyerMember(
        role=MemberRole.ENFANT,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        birth_date=birth_date,
        school=school,
        has_pai=has_pai,
        allergies=allergies,
    )
    foyer.members.append(child)
    session.commit()
    return child.id


def _foyer_child(session: Session, foyer_id: int, child_id: int) -> FoyerMember:
    foyer = _live_foyer(session, foyer_id)
    for member in foyer.members:
        if member.id == child_id and member.role is MemberRole.ENFANT:
            return member
    raise ChildNotFound()


def household_child(session: Session, foyer_id: int, child_id: int) -> HouseholdMember:
    """One child of a foyer; ChildNotFound for another foyer's child or an adult."""
    return _member_view(_foyer_child(session, foyer_id, child_id))


def update_child(
    session: Session,
    foyer_id: int,
    child_id: int,
    *,
    school: str | None,
    has_pai: bool,
    allergies: str | None,
) -> None:
    """Record a child's school, PAI flag and allergies; commits."""
    child = _foyer_child(session, foyer_id, child_id)
    child.school, child.has_pai, child.allergies = _child_details(school, has_pai, allergies)
    session.commit()


def update_address(
    session: Session, foyer_id: int, *, address_line: str, postal_code: str, city: str
) -> bool:
    """Change a foyer's address; commits and says whether it actually changed.

    A changed address calls for a new proof of address: the caller tells the family.
    """
    foyer = _live_foyer(session, foyer_id)
    new = (address_line.strip(), postal_code.strip(), city.strip())
    if new == (foyer.address_line, foyer.postal_code, foyer.city):
        return False
    foyer.address_line, foyer.postal_code, foyer.city = new
    session.commit()
    return True
