"""Getting into the family space: sign-up, activation, family codes, reset and invitation.

Links sent by e-mail carry a token signed with the application's secret (itsdangerous).
Each token embeds its issue time, checked against the project's Clock (itsdangerous'
own max_age reads the real time), and a fingerprint of the state it acts on: the
activation token is bound to the account being inactive, the reset token to the current
password hash, so a second use no longer matches and fails.

Nothing here tells whether an address has an account: sign-up and reset requests return
nothing, and the caller shows the same page either way.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts import information
from accounts.credentials import (
    PROFILE,
    EmailTaken,
    check_new_password,
    create_account,
    end_sessions,
    find_account,
    hash_password,
    normalize_email,
)
from accounts.joining import join_with_code
from accounts.models import Account, FamilyCode, Role
from coffre.clock import Clock
from coffre.models import Foyer, FoyerMember, MemberRole
from notifications.outbox import enqueue

ACTIVATION_VALIDITY = timedelta(hours=48)
RESET_VALIDITY = timedelta(hours=2)
INVITATION_VALIDITY = timedelta(days=7)
FAMILY_CODE_VALIDITY = timedelta(days=90)

# A link builder given by the caller: token -> absolute URL (procedures knows no routes).
LinkBuilder = Callable[[str], str]

_ACTIVATION = "activation"
_RESET = "reinitialisation"
_INVITATION = "invitation"
# Unambiguous characters for codes read aloud or copied from paper.
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_hasher = PasswordHasher.from_parameters(PROFILE)
_DUMMY_HASH = _hasher.hash("not-a-real-one-time-code")


class InvalidToken(Exception):
    """A link that is tampered with, expired, already used or for a closed account."""


class InvalidFamilyCode(Exception):
    """Wrong, used or expired family code or one-time code (never says which)."""


# --- signed tokens ------------------------------------------------------------------------


def _serializer(secret: str, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=f"portail-famille:{purpose}")


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:32]


def _dump(secret: str, purpose: str, clock: Clock, payload: dict[str, Any]) -> str:
    return str(_serializer(secret, purpose).dumps({**payload, "t": int(clock.now().timestamp())}))


def _load(
    secret: str, purpose: str, token: str, *, now: datetime, max_age: timedelta
) -> dict[str, Any]:
    """The payload of a well-signed token issued less than max_age before `now`."""
    try:
        payload = _serializer(secret, purpose).loads(token)
    except BadSignature as error:
        raise InvalidToken() from error
    if not isinstance(payload, dict) or not isinstance(payload.get("t"), int):
        raise InvalidToken()
    issued = datetime.fromtimestamp(payload["t"], tz=now.tzinfo)
    if not issued - timedelta(minutes=5) <= now <= issued + max_age:
        raise InvalidToken()
    return payload


def _activation_state(account: Account) -> str:
    return _fingerprint(account.id, account.is_active, account.password_hash)


def _password_state(account: Account) -> str:
    return _fingerprint(account.id, account.password_hash)


def activation_token(secret: str, clock: Clock, account: Account) -> str:
    return _dump(secret, _ACTIVATION, clock, {"a": account.id, "s": _activation_state(account)})


def reset_token(secret: str, clock: Clock, account: Account) -> str:
    return _dump(secret, _RESET, clock, {"a": account.id, "s": _password_state(account)})


def _account_for(session: Session, payload: dict[str, Any]) -> Account:
    account_id = payload.get("a")
    account = session.get(Account, account_id) if isinstance(account_id, int) else None
    if account is None:
        raise InvalidToken()
    return account


def _foyer_is_open(session: Session, foyer_id: int | None) -> bool:
    foyer = session.get(Foyer, foyer_id) if foyer_id is not None else None
    return foyer is not None and foyer.shredded_at is None


# --- sign-up and activation by e-mail -----------------------------------------------------


def _split_name(name: str) -> tuple[str, str]:
    first, _, last = name.strip().partition(" ")
    return first, last.strip()


def sign_up(
    session: Session,
    clock: Clock,
    *,
    secret: str,
    link: LinkBuilder,
    email: str,
    name: str,
    password: str,
    information_version: str,
) -> None:
    """Create an inactive family account and its foyer, and queue the activation e-mail.

    `information_version` is the version of the information (accounts.information) the
    family read and accepted on the sign-up page; it is recorded with the account, and
    UnknownVersion refuses any other than the version in force before anything is made.
    When the address already has an account nothing is created nor sent, and nothing is
    returned either way (the page must not reveal which). Commits.
    """
    check_new_password(password, email)
    _check_version(session, information_version)
    password_hash = hash_password(password)  # hashed either way: same time for both cases
    email = normalize_email(email)
    if find_account(session, email) is not None:
        return
    now = clock.now()
    first, last = _split_name(name)
    foyer = Foyer(label=f"Foyer {name.strip()}", created_at=now)
    foyer.members = [FoyerMember(role=MemberRole.ADULTE, first_name=first, last_name=last)]
    session.add(foyer)
    session.flush()
    account = Account(
        email=email,
        password_hash=password_hash,
        role=Role.FAMILLE,
        display_name=name.strip(),
        foyer_id=foyer.id,
        is_active=False,
        created_at=now,
    )
    information.record_acceptance(session, account, clock, information_version)
    session.add(account)
    try:
        session.flush()
    except IntegrityError:  # the same address signed up at the same moment
        session.rollback()
        return
    token = activation_token(secret, clock, account)
    enqueue(
        session,
        clock,
        key=f"activation:{account.id}",
        recipient=email,
        template="activation_compte",
        context={"lien": link(token)},
    )
    session.commit()


def check_activation(session: Session, clock: Clock, *, secret: str, token: str) -> Account:
    """The account a valid, unused activation link is for; consumes nothing.

    The link's page calls this on GET, since mail scanners open links: only the
    confirmation (a POST) activates.
    """
    payload = _load(secret, _ACTIVATION, token, now=clock.now(), max_age=ACTIVATION_VALIDITY)
    account = _account_for(session, payload)
    if payload.get("s") != _activation_state(account) or account.is_active:
        raise InvalidToken()
    if not _foyer_is_open(session, account.foyer_id):
        raise InvalidToken()
    return account


def activate(session: Session, clock: Clock, *, secret: str, token: str) -> Account:
    """Activate the account of a valid activation link (once); commits."""
    account = check_activation(session, clock, secret=secret, token=token)
    account.is_active = True
    session.commit()
    return account


# --- family codes handed out at the counter -----------------------------------------------


def _random_code(length: int) -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length))


def issue_family_code(
    session: Session, clock: Clock, foyer_id: int, *, issued_by: int | None = None
) -> tuple[str, str]:
    """A new family code and one-time code for a foyer; only the latter's hash is kept.

    `issued_by` is the agent who hands it out. Returns (code, one_time_code) to hand to
    the family; commits.
    """
    if not _foyer_is_open(session, foyer_id):
        raise InvalidFamilyCode()
    now = clock.now()
    while True:
        code = "F-" + _random_code(8)
        if session.scalar(select(FamilyCode.id).where(FamilyCode.code == code)) is None:
            break
    one_time_code = _random_code(10)
    session.add(
        FamilyCode(
            foyer_id=foyer_id,
            code=code,
            one_time_hash=_hasher.hash(one_time_code),
            created_at=now,
            expires_at=now + FAMILY_CODE_VALIDITY,
            issued_by=issued_by,
        )
    )
    session.commit()
    return code, one_time_code


def _verify(password_hash: str, secret_value: str) -> bool:
    try:
        return _hasher.verify(password_hash, secret_value)
    except (VerificationError, InvalidHashError):
        return False


def _normalize_code(code: str) -> str:
    return code.strip().upper().replace(" ", "")


def activate_with_code(
    session: Session,
    clock: Clock,
    *,
    family_code: str,
    one_time_code: str,
    email: str,
    password: str,
    link: str,
    information_version: str | None = None,
) -> Account:
    """Create an active family account with a valid family code; commits.

    The account is in the code's foyer at once if the foyer has no family account yet;
    otherwise it is in none (`foyer_id` None) until an adult of the foyer accepts it, and
    the adults are e-mailed (`link`: the family space's address; accounts.joining).
    Raises InvalidFamilyCode whatever was wrong with the codes, EmailTaken when the
    address already has an account (the family is signed in there, it can learn it).
    `information_version` as for sign_up; None when the family did not read it yet (it is
    then asked to before using its space).
    """
    check_new_password(password, email)
    _check_version(session, information_version)
    now = clock.now()
    row = session.scalar(select(FamilyCode).where(FamilyCode.code == _normalize_code(family_code)))
    matches = _verify(row.one_time_hash if row else _DUMMY_HASH, _normalize_code(one_time_code))
    if row is None or not matches or row.used_at is not None or row.expires_at <= now:
        raise InvalidFamilyCode()
    foyer = session.get(Foyer, row.foyer_id)
    if foyer is None or foyer.shredded_at is not None:
        raise InvalidFamilyCode()
    email = normalize_email(email)
    if find_account(session, email) is not None:
        raise EmailTaken(email)
    account = Account(
        email=email,
        password_hash=hash_password(password),
        role=Role.FAMILLE,
        display_name=foyer.label,
        is_active=True,
        created_at=now,
    )
    row.used_at = now
    _record(session, account, clock, information_version)
    session.add(account)
    join_with_code(session, clock, account, row, link=link)
    session.commit()
    return account


# --- forgotten password -------------------------------------------------------------------


def request_password_reset(
    session: Session, clock: Clock, *, secret: str, link: LinkBuilder, email: str
) -> None:
    """Queue a reset link if an active account has this address; commits. Returns nothing."""
    account = find_account(session, email)
    if account is None or not account.is_active:
        return
    token = reset_token(secret, clock, account)
    enqueue(
        session,
        clock,
        key=f"reset:{account.id}:{_fingerprint(token)}",
        recipient=account.email,
        template="reinitialisation_mot_de_passe",
        context={"lien": link(token)},
    )
    session.commit()


def check_reset_token(session: Session, clock: Clock, *, secret: str, token: str) -> Account:
    """The account a reset link is for, if the link is still valid and unused."""
    payload = _load(secret, _RESET, token, now=clock.now(), max_age=RESET_VALIDITY)
    account = _account_for(session, payload)
    if payload.get("s") != _password_state(account) or not account.is_active:
        raise InvalidToken()
    return account


def reset_password(
    session: Session, clock: Clock, *, secret: str, token: str, password: str
) -> Account:
    """Set a new password through a reset link (which then stops working) and end every
    session of the account; commits."""
    account = check_reset_token(session, clock, secret=secret, token=token)
    check_new_password(password, account.email)
    account.password_hash = hash_password(password)
    end_sessions(account)
    session.commit()
    return account


# --- inviting a second adult --------------------------------------------------------------


def invite_adult(
    session: Session,
    clock: Clock,
    *,
    secret: str,
    link: LinkBuilder,
    account_id: int,
    email: str,
) -> None:
    """Queue an invitation to join the inviter's foyer; commits.

    Sent whatever the address: an invitee who already has an account simply cannot use it.
    """
    inviter = session.get(Account, account_id)
    if inviter is None or inviter.foyer_id is None:
        raise InvalidToken()
    email = normalize_email(email)
    token = _dump(secret, _INVITATION, clock, {"f": inviter.foyer_id, "e": email})
    enqueue(
        session,
        clock,
        key=f"invitation:{inviter.foyer_id}:{_fingerprint(token)}",
        recipient=email,
        template="invitation_foyer",
        context={"lien": link(token), "invitant": inviter.display_name},
    )
    session.commit()


def check_invitation(session: Session, clock: Clock, *, secret: str, token: str) -> str:
    """The invited address of a valid, unused invitation."""
    payload = _load(secret, _INVITATION, token, now=clock.now(), max_age=INVITATION_VALIDITY)
    email, foyer_id = payload.get("e"), payload.get("f")
    if not isinstance(email, str) or not isinstance(foyer_id, int):
        raise InvalidToken()
    if not _foyer_is_open(session, foyer_id) or find_account(session, email) is not None:
        raise InvalidToken()  # used already: the address now has its account
    return email


def accept_invitation(
    session: Session,
    clock: Clock,
    *,
    secret: str,
    token: str,
    name: str,
    password: str,
    information_version: str | None = None,
) -> Account:
    """Create the invitee's active account in the inviter's foyer; commits.

    `information_version` as for activate_with_code.
    """
    email = check_invitation(session, clock, secret=secret, token=token)
    check_new_password(password, email)
    _check_version(session, information_version)
    foyer_id = _serializer(secret, _INVITATION).loads(token)["f"]
    first, last = _split_name(name)
    foyer = session.get(Foyer, foyer_id)
    assert foyer is not None  # checked by check_invitation
    if listed_adult(foyer, first, last) is None:
        foyer.members.append(FoyerMember(role=MemberRole.ADULTE, first_name=first, last_name=last))
    account = create_account(
        session, clock, email=email, password=password, role=Role.FAMILLE,
        display_name=name.strip(), foyer_id=foyer_id,
    )  # fmt: skip
    _record(session, account, clock, information_version)
    session.commit()
    return account


def listed_adult(foyer: Foyer, first: str, last: str) -> FoyerMember | None:
    """The adult of the foyer's file who bears this name, if any: the household file often
    lists the second adult before they join (typed by the first, or at the counter), and
    joining must not list them twice. Case, accents, hyphens and spacing do not count; a
    name given without a last name matches on the first name."""
    wanted = _name_key(f"{first} {last}")
    for member in foyer.members:
        if member.role is not MemberRole.ADULTE:
            continue
        if _name_key(f"{member.first_name} {member.last_name}") == wanted or (
            not last.strip() and _name_key(member.first_name) == wanted
        ):
            return member
    return None


def _name_key(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(letters.replace("-", " ").casefold().split())


def _check_version(session: Session, version: str | None) -> None:
    """Refuse, before anything is made, a version of the information that is not in force."""
    if version is not None and version != information.in_force_identifier(session):
        raise information.UnknownVersion(version)


def _record(session: Session, account: Account, clock: Clock, version: str | None) -> None:
    if version is not None:
        information.record_acceptance(session, account, clock, version)
