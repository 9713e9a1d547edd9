"""The back office's second factor: TOTP codes (RFC 6238) from an authenticator app.

Every back-office account (agent, administrator) enrols once: a fresh secret is shown as an
otpauth URI, and the enrolment counts only once a first code from the app is accepted. Codes
are checked against the caller's clock with one time step of tolerance either way, and each
time step is accepted at most once per account (a replayed code is refused).

The secret is stored sealed with AES-256-GCM under a key derived by HKDF from the master
keyring's newest key; the stored text names the key version, so a rotated keyring still opens
older secrets. The associated data binds a sealed secret to its account.
"""

from __future__ import annotations

import base64
import hmac
import os
from dataclasses import dataclass, field

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from accounts.credentials import end_sessions
from accounts.models import Account, Role
from coffre.clock import Clock
from coffre.keyring import Keyring

ISSUER = "Portail Famille"
BACK_OFFICE_ROLES = frozenset({Role.AGENT, Role.ADMIN})
CODE_DIGITS = 6
# One step (30 s) early or late: the phone's clock and the typing time.
VALID_WINDOW = 1
NONCE_BYTES = 12
_HKDF_INFO = b"portail-famille/second-factor/v1"


class SecondFactorError(Exception):
    """Base of the second factor's errors; none carries a secret or a code."""


class InvalidCode(SecondFactorError):
    """The code is wrong, outside the time window or was already used."""


class NotEnrolled(SecondFactorError):
    """The account has no confirmed second factor yet."""


class AlreadyEnrolled(SecondFactorError):
    """The account's second factor is already confirmed; an administrator must reset it."""


class UnknownAccount(SecondFactorError):
    """No such account, or it is disabled."""


@dataclass(frozen=True)
class Enrolment:
    """What an agent needs to add the account to an authenticator app."""

    secret: str = field(repr=False)
    uri: str = field(repr=False)


def requires_second_factor(role: Role) -> bool:
    """Whether accounts of this role must give a code after their password."""
    return role in BACK_OFFICE_ROLES


def is_enrolled(account: Account) -> bool:
    """Whether the account's second factor was confirmed by a first code."""
    return account.totp_confirmed_at is not None and account.totp_secret_encrypted is not None


def start_enrolment(session: Session, keyring: Keyring, account_id: int) -> Enrolment:
    """The account's pending secret, created on first call; commits.

    Showing the page again gives the same secret, so a code scanned a moment ago still works.
    """
    account = _account(session, account_id)
    if is_enrolled(account):
        raise AlreadyEnrolled()
    if account.totp_secret_encrypted is None:
        account.totp_secret_encrypted = _seal(keyring, account.id, pyotp.random_base32())
        account.totp_last_counter = None
        session.commit()
    secret = _open(keyring, account.id, account.totp_secret_encrypted)
    uri = pyotp.TOTP(secret).provisioning_uri(name=account.email, issuer_name=ISSUER)
    return Enrolment(secret=secret, uri=uri)


def confirm_enrolment(
    session: Session, clock: Clock, keyring: Keyring, account_id: int, code: str
) -> None:
    """Confirm the pending secret with a first valid code from the app; commits."""
    account = _account(session, account_id)
    if is_enrolled(account):
        raise AlreadyEnrolled()
    if account.totp_secret_encrypted is None:
        raise NotEnrolled()
    _accept(session, clock, keyring, account, code)
    account.totp_confirmed_at = clock.now()
    session.commit()


def verify_code(
    session: Session, clock: Clock, keyring: Keyring, account_id: int, code: str
) -> None:
    """Accept one code of an enrolled account, never the same time step twice; commits."""
    account = _account(session, account_id)
    if not is_enrolled(account):
        raise NotEnrolled()
    _accept(session, clock, keyring, account, code)
    session.commit()


def demo_code(session: Session, clock: Clock, keyring: Keyring, account_id: int) -> str | None:
    """The code the account's next step accepts now: what its app would show.

    For a demo's pages only (the caller's ENV=development), where agents sign in without an
    authenticator app; never elsewhere, as it stands in for the second factor. None when
    the account has no secret yet, or used every code of the window (wait 30 seconds).
    """
    account = _account(session, account_id)
    if account.totp_secret_encrypted is None:
        return None
    totp = pyotp.TOTP(_open(keyring, account.id, account.totp_secret_encrypted))
    current = totp.timecode(clock.now())
    last = account.totp_last_counter
    for counter in range(current, current + VALID_WINDOW + 1):
        if last is None or counter > last:
            return totp.generate_otp(counter)
    return None


def reset_second_factor(session: Session, account_id: int) -> None:
    """Forget an account's second factor and end its sessions: it enrols again at its next
    login; commits."""
    account = session.get(Account, account_id)
    if account is None:
        raise UnknownAccount()
    account.totp_secret_encrypted = None
    account.totp_confirmed_at = None
    account.totp_last_counter = None
    # A session opened with the forgotten factor (a lost or stolen phone) must not outlive it.
    end_sessions(account)
    session.commit()


def _account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None or not account.is_active or not requires_second_factor(account.role):
        raise UnknownAccount()
    return account


def _accept(session: Session, clock: Clock, keyring: Keyring, account: Account, code: str) -> None:
    assert account.totp_secret_encrypted is not None
    totp = pyotp.TOTP(_open(keyring, account.id, account.totp_secret_encrypted))
    counter = _matching_counter(totp, clock, code.replace(" ", ""))
    if counter is None:
        raise InvalidCode()
    # A conditional update, so two requests racing with one code cannot both pass.
    claimed = session.execute(
        update(Account)
        .where(
            Account.id == account.id,
            or_(Account.totp_last_counter.is_(None), Account.totp_last_counter < counter),
        )
        .values(totp_last_counter=counter)
        .execution_options(synchronize_session="fetch")
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidCode()


def _matching_counter(totp: pyotp.TOTP, clock: Clock, code: str) -> int | None:
    if len(code) != CODE_DIGITS or not code.isdigit():
        return None
    current = totp.timecode(clock.now())
    for counter in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None


def _binding(account_id: int) -> bytes:
    return f"second-factor/account={account_id}".encode()


def _key(keyring: Keyring, version: int) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO)
    return hkdf.derive(keyring.key(version))


def _seal(keyring: Keyring, account_id: int, secret: str) -> str:
    version = keyring.current_version
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_key(keyring, version)).encrypt(nonce, secret.encode(), _binding(account_id))
    return f"{version}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"


def _open(keyring: Keyring, account_id: int, stored: str) -> str:
    version_text, _, encoded = stored.partition(":")
    try:
        raw = base64.urlsafe_b64decode(encoded)
        key = _key(keyring, int(version_text))
        secret = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _binding(account_id))
    except (ValueError, InvalidTag):
        raise SecondFactorError("the stored second factor cannot be opened") from None
    return secret.decode("ascii")
