"""The information a family reads before sign-up (article R.55-1, décret n° 2018-418).

Each published version keeps its identifier and date forever: the text of version `n` is
the page `information/<n>.html` of the web templates, and stays readable at its own
address. Publishing a new version means adding its file and a line at the end of
VERSIONS: families who accepted an older one are asked to accept the new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from accounts.models import Account, Role
from coffre.clock import Clock


@dataclass(frozen=True)
class InformationVersion:
    """A published version of the text: its identifier and its publication date."""

    identifier: str
    published_on: date


# Oldest first; the last one is the version in force.
VERSIONS: tuple[InformationVersion, ...] = (InformationVersion("1", date(2026, 12, 7)),)


class UnknownVersion(Exception):
    """Only the version in force can be accepted."""


class NotAFamily(Exception):
    """Only a family adult's account accepts the information."""


def current() -> InformationVersion:
    """The version in force, which a new account accepts."""
    return VERSIONS[-1]


def find(identifier: str) -> InformationVersion | None:
    """The published version with this identifier, if any."""
    return next((v for v in VERSIONS if v.identifier == identifier), None)


def must_accept(role: Role, accepted_version: str | None) -> bool:
    """Whether a family adult has still to accept the version in force (agents never do)."""
    return role is Role.FAMILLE and accepted_version != current().identifier


def record_acceptance(account: Account, clock: Clock, version: str) -> None:
    """Write on the account that it accepted `version` now (not committed).

    Raises UnknownVersion unless it is the version in force: a page read before a new
    version was published does not count as having read the new one.
    """
    if version != current().identifier:
        raise UnknownVersion(version)
    account.information_version = version
    account.information_accepted_at = clock.now()


def accept(session: Session, clock: Clock, account_id: int, version: str) -> Account:
    """A family adult accepts the version in force after reading it; commits."""
    account = session.get(Account, account_id)
    if account is None or account.role is not Role.FAMILLE:
        raise NotAFamily(account_id)
    record_acceptance(account, clock, version)
    session.commit()
    return account
