"""Accounts and their passwords: creation, authentication (argon2id), change, sessions ended."""

from __future__ import annotations

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from accounts.models import Account, FamilyCode, Role
from coffre.clock import Clock

MIN_PASSWORD_LENGTH = 12

# RFC 9106's second recommended option (64 MiB, 3 passes, 4 lanes), argon2-cffi's default.
PROFILE = profiles.RFC_9106_LOW_MEMORY
_hasher = PasswordHasher.from_parameters(PROFILE)
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
    """Check a login and record it; raises InvalidCredentials whatever was wrong.

    `email` may instead be the foyer's family code, as Vincennes' families sign in (the code
    printed on their papers, and their own password): each adult of the foyer keeps their
    own password, and the one it matches is the account opened.
    """
    if "@" not in email:
        account = _by_family_code(session, email, password)
    else:
        account = find_account(session, email)
        if account is None:
            _verify(_DUMMY_HASH, password)
            raise InvalidCredentials()
        if not _verify(account.password_hash, password):
            account = None
    if account is None or not account.is_active:
        raise InvalidCredentials()
    if account.role is Role.LOGICIEL:  # software uses the API's tokens, never a page
        raise InvalidCredentials()
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    account.last_login_at = clock.now()
    session.commit()
    return account


def _by_family_code(session: Session, code: str, password: str) -> Account | None:
    """The active family account of the foyer with this code that the password opens."""
    normalized = code.strip().upper().replace(" ", "")
    foyers = select(FamilyCode.foyer_id).where(FamilyCode.code == normalized)
    adults = session.scalars(
        select(Account)
        .where(Account.foyer_id.in_(foyers), Account.role == Role.FAMILLE, Account.is_active)
        .order_by(Account.id)
    ).all()
    if not adults:
        _verify(_DUMMY_HASH, password)  # the same time as a wrong password
    return next((a for a in adults if _verify(a.password_hash, password)), None)


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
