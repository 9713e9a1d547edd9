"""Accounts: creation, password authentication (argon2id) and the household file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from coffre.clock import Clock
from coffre.models import Foyer, FoyerMember, MemberRole
from procedures.models import Account, Role

MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()
# Verified when the e-mail is unknown, so an absent account takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-just-for-timing")


class AccountError(Exception):
    """Base of account errors; each carries a message safe to show."""


class InvalidCredentials(AccountError):
    """Unknown e-mail, wrong password or disabled account (never says which)."""


class WeakPassword(AccountError):
    """The password is too short."""


class PasswordContainsEmail(WeakPassword):
    """The password contains the e-mail address or its local part."""


class EmailTaken(AccountError):
    """Another account already uses this e-mail."""


def normalize_email(email: str) -> str:
    """The canonical form under which an e-mail is stored and looked up."""
    return email.strip().lower()


def hash_password(password: str) -> str:
    """An argon2id hash of a password that is long enough."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def check_new_password(password: str, email: str) -> None:
    """Refuse a password that is too short or that repeats the e-mail address."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"at least {MIN_PASSWORD_LENGTH} characters")
    email = normalize_email(email)
    local = email.split("@", 1)[0]
    lowered = password.lower()
    if email and (email in lowered or (len(local) >= 3 and local in lowered)):
        raise PasswordContainsEmail()


def create_account(
    session: Session,
    clock: Clock,
    *,
    email: str,
    password: str,
    role: Role,
    display_name: str,
    foyer_id: int | None = None,
    entity_id: int | None = None,
) -> Account:
    """Add an account (not committed: the caller's unit of work commits)."""
    email = normalize_email(email)
    if find_account(session, email) is not None:
        raise EmailTaken(email)
    account = Account(
        email=email,
        password_hash=hash_password(password),
        role=role,
        display_name=display_name,
        foyer_id=foyer_id,
        entity_id=entity_id,
        created_at=clock.now(),
    )
    session.add(account)
    session.flush()
    return account


def find_account(session: Session, email: str) -> Account | None:
    """The account with this e-mail, whatever its case."""
    return session.scalar(select(Account).where(Account.email == normalize_email(email)))


def authenticate(session: Session, clock: Clock, email: str, password: str) -> Account:
    """Check a login and record it; raises InvalidCredentials whatever was wrong."""
    account = find_account(session, email)
    if account is None:
        _verify(_DUMMY_HASH, password)
        raise InvalidCredentials()
    if not _verify(account.password_hash, password) or not account.is_active:
        raise InvalidCredentials()
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    account.last_login_at = clock.now()
    session.commit()
    return account


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def close_foyer_accounts(session: Session, foyer_id: int) -> int:
    """Deactivate every account of a foyer (after its vault was shredded); commits.

    Runs after the shredding, which commits first: if this failed, the accounts would stay
    open on an empty vault (harmless), whereas the reverse order could leave documents
    stored that nobody can log in to delete.
    """
    result = session.execute(
        update(Account)
        .where(Account.foyer_id == foyer_id)
        .values(is_active=False, session_version=Account.session_version + 1)
    )
    session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def end_sessions(account: Account) -> None:
    """End every session of the account, on every device (not committed).

    Each session carries the version it was opened under; the web layer refuses one whose
    version is no longer the account's.
    """
    account.session_version += 1


def sign_out(session: Session, account_id: int) -> None:
    """Log an account out of every device; commits."""
    account = session.get(Account, account_id)
    if account is not None:
        end_sessions(account)
        session.commit()


def change_password(
    session: Session, clock: Clock, account_id: int, current: str, new: str
) -> Account:
    """Replace a logged-in account's password after checking the current one; commits.

    Every session of the account ends; the caller re-issues its own under the returned
    account's new session version (the device where the password changed stays logged in).
    """
    account = session.get(Account, account_id)
    if account is None or not _verify(account.password_hash, current):
        raise InvalidCredentials()
    check_new_password(new, account.email)
    account.password_hash = hash_password(new)
    end_sessions(account)
    session.commit()
    return account


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
