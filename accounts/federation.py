"""Signing in with FranceConnect: an identity linked to a family account, or a new account.

The portal never takes an identity's e-mail address as proof that an account is its own: a
first FranceConnect sign-in links to an existing account only after that account's password
is given, or creates a new family account (and its foyer) from the identity.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts import information
from accounts.credentials import EmailTaken, find_account, hash_password, normalize_email
from accounts.models import Account, FederatedIdentity, Role
from coffre.clock import Clock
from coffre.models import Foyer, FoyerMember, MemberRole

FRANCECONNECT = "franceconnect"


class FederationError(Exception):
    """A link refused; the message is for the family."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidEmail(FederationError):
    pass


@dataclass(frozen=True)
class Identity:
    """What FranceConnect says of the person (the identity pivot), as the portal keeps it."""

    subject: str
    given_name: str
    family_name: str
    birthdate: date | None
    email: str

    @property
    def display_name(self) -> str:
        first = self.given_name.split()[0] if self.given_name.split() else ""
        return f"{first} {self.family_name.title()}".strip() or "Parent"


def account_for(session: Session, clock: Clock, subject: str) -> Account | None:
    """The active family account this identity opens, its sign-in recorded; None if unlinked."""
    link = session.scalar(
        select(FederatedIdentity).where(
            FederatedIdentity.provider == FRANCECONNECT, FederatedIdentity.subject == subject
        )
    )
    if link is None:
        return None
    account = session.get(Account, link.account_id)
    if account is None or not account.is_active or account.role is not Role.FAMILLE:
        return None
    link.last_login_at = account.last_login_at = clock.now()
    session.commit()
    return account


def link(session: Session, clock: Clock, account: Account, identity: Identity) -> Account:
    """Link the identity to an account whose password was just given; commits.

    FederationError when the account is not a family's, or already has another identity.
    """
    if account.role is not Role.FAMILLE:
        raise FederationError("FranceConnect ouvre seulement les comptes des familles.")
    _link(session, clock, account, identity)
    return account


def create_family(
    session: Session, clock: Clock, identity: Identity, email: str, *, information_version: str
) -> Account:
    """A new, active family account and its foyer, for this identity; commits.

    It has no password (a long random one, never shown): FranceConnect opens it, and "mot
    de passe oublié" gives it one. EmailTaken when the address has an account already.
    `information_version` is the version of the information the family accepted before
    (accounts.information): UnknownVersion, before anything is made, unless it is in force.
    """
    if information_version != information.in_force_identifier(session):
        raise information.UnknownVersion(information_version)
    email = normalize_email(email)
    if "@" not in email or len(email) > 254 or " " in email:
        raise InvalidEmail("Indiquez une adresse électronique valide.")
    if find_account(session, email) is not None:
        raise EmailTaken(email)
    now = clock.now()
    first = identity.given_name.split()[0].title() if identity.given_name.split() else ""
    last = identity.family_name.title()
    foyer = Foyer(label=f"Foyer {last}".strip(), created_at=now)
    foyer.members = [
        FoyerMember(
            role=MemberRole.ADULTE, first_name=first[:120], last_name=last[:120],
            birth_date=identity.birthdate,
        )
    ]  # fmt: skip
    session.add(foyer)
    session.flush()
    account = Account(
        email=email,
        password_hash=hash_password(secrets.token_urlsafe(32)),
        role=Role.FAMILLE,
        display_name=identity.display_name,
        foyer_id=foyer.id,
        is_active=True,
        created_at=now,
        last_login_at=now,
    )
    information.record_acceptance(session, account, clock, information_version)
    session.add(account)
    try:
        session.flush()
    except IntegrityError:  # the same address at the same moment
        session.rollback()
        raise EmailTaken(email) from None
    _link(session, clock, account, identity)
    return account


def is_linked(session: Session, account_id: int) -> bool:
    return (
        session.scalar(
            select(FederatedIdentity.id).where(
                FederatedIdentity.provider == FRANCECONNECT,
                FederatedIdentity.account_id == account_id,
            )
        )
        is not None
    )


def unlink(session: Session, account_id: int) -> bool:
    """End the account's link to FranceConnect; False when there was none; commits."""
    removed = session.execute(
        delete(FederatedIdentity).where(
            FederatedIdentity.provider == FRANCECONNECT,
            FederatedIdentity.account_id == account_id,
        )
    )
    session.commit()
    return bool(getattr(removed, "rowcount", 0))


def _link(session: Session, clock: Clock, account: Account, identity: Identity) -> None:
    if is_linked(session, account.id):
        raise FederationError(
            "Ce compte est déjà relié à une autre identité FranceConnect : déliez-la d'abord "
            "depuis votre compte."
        )
    taken = session.scalar(
        select(FederatedIdentity.id).where(
            FederatedIdentity.provider == FRANCECONNECT,
            FederatedIdentity.subject == identity.subject,
        )
    )
    if taken is not None:
        raise FederationError("Cette identité FranceConnect ouvre déjà un autre compte.")
    session.add(
        FederatedIdentity(
            provider=FRANCECONNECT, subject=identity.subject, account_id=account.id,
            created_at=clock.now(), last_login_at=clock.now(),
        )
    )  # fmt: skip
    session.commit()
