"""Accounts: creation and password authentication (argon2id)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from coffre.clock import Clock
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
        update(Account).where(Account.foyer_id == foyer_id).values(is_active=False)
    )
    session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
