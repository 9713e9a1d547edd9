"""The information a family reads before sign-up (article R.55-1, décret n° 2018-418).

Each published version keeps its number and date forever and stays readable at its own
address. The first versions are pages of the web templates (`information/<n>.html`,
listed in VERSIONS); the later ones are written in Markdown by an administrator and
published from the administration (`publish`), each as a new row that is never changed.
Families who accepted an older version are asked to accept the one in force.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from markdown_it import MarkdownIt
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.models import Account, InformationText, Role
from accounts.organisation import InvalidValue, global_administrator, record
from coffre.clock import PARIS, Clock

TEXT_MAX = 50_000


@dataclass(frozen=True)
class InformationVersion:
    """A published version of the text: its identifier, its publication date, and its
    Markdown text (None for a built-in version, whose text is a template)."""

    identifier: str
    published_on: date
    text: str | None = None

    @property
    def html(self) -> str:
        """The Markdown text as HTML (raw HTML in it is escaped, unsafe links dropped)."""
        return render(self.text or "")


# The built-in versions, oldest first: their texts are templates.
VERSIONS: tuple[InformationVersion, ...] = (InformationVersion("1", date(2026, 12, 7)),)


class UnknownVersion(Exception):
    """Only the version in force can be accepted."""


class NotAFamily(Exception):
    """Only a family adult's account accepts the information."""


class VersionPublishedMeanwhile(Exception):
    """Another administrator published a version at the same moment: read it first."""


def render(text: str) -> str:
    """Markdown (CommonMark) as HTML; raw HTML is shown as text, never interpreted."""
    return MarkdownIt("commonmark", {"html": False}).render(text)


def versions(session: Session) -> list[InformationVersion]:
    """Every published version, oldest first; the last one is in force."""
    rows = session.scalars(select(InformationText).order_by(InformationText.number))
    return [*VERSIONS, *(_version(row) for row in rows)]


def current(session: Session) -> InformationVersion:
    """The version in force, which a new account accepts."""
    number = _last_number(session)
    row = session.get(InformationText, number) if number else None
    return _version(row) if row is not None else VERSIONS[-1]


def find(session: Session, identifier: str) -> InformationVersion | None:
    """The published version with this identifier, if any."""
    built_in = next((v for v in VERSIONS if v.identifier == identifier), None)
    if built_in is not None or not identifier.isdigit() or len(identifier) > 9:
        return built_in
    row = session.get(InformationText, int(identifier))
    return _version(row) if row is not None else None


def must_accept(session: Session, role: Role, accepted_version: str | None) -> bool:
    """Whether a family adult has still to accept the version in force (agents never do)."""
    return role is Role.FAMILLE and accepted_version != in_force_identifier(session)


def in_force_identifier(session: Session) -> str:
    """The identifier of the version in force, without reading its text."""
    return str(_last_number(session) or VERSIONS[-1].identifier)


def record_acceptance(session: Session, account: Account, clock: Clock, version: str) -> None:
    """Write on the account that it accepted `version` now (not committed).

    Raises UnknownVersion unless it is the version in force: a page read before a new
    version was published does not count as having read the new one.
    """
    if version != in_force_identifier(session):
        raise UnknownVersion(version)
    account.information_version = version
    account.information_accepted_at = clock.now()


def accept(session: Session, clock: Clock, account_id: int, version: str) -> Account:
    """A family adult accepts the version in force after reading it; commits."""
    account = session.get(Account, account_id)
    if account is None or account.role is not Role.FAMILLE:
        raise NotAFamily(account_id)
    record_acceptance(session, account, clock, version)
    session.commit()
    return account


def publish(session: Session, clock: Clock, actor_id: int, text: str) -> InformationVersion:
    """A global administrator publishes `text` (Markdown) as the next version; journaled,
    commits. Families are asked to accept it at their next visit."""
    actor = global_administrator(session, actor_id)
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise InvalidValue("text", "blank")
    if len(text) > TEXT_MAX:
        raise InvalidValue("text", "too_long")
    if _an_empty_section(text):
        raise InvalidValue("text", "empty_section")
    number = int(in_force_identifier(session)) + 1
    row = InformationText(number=number, text=text, published_at=clock.now(), published_by=actor.id)
    session.add(row)
    record(
        session,
        clock,
        actor,
        action="information.published",
        target=("information", number),
        entity_id=None,
        before=None,
        after={"version": number},
    )
    try:
        session.commit()
    except IntegrityError:  # the same number, published by another administrator
        session.rollback()
        raise VersionPublishedMeanwhile(number) from None
    return _version(row)


def _an_empty_section(text: str) -> bool:
    """Whether a heading has nothing under it before the next one (or the end): the six
    headings the form starts with, left unanswered, would inform nobody."""
    filled: list[bool] = []
    prose = False  # any text outside the headings
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            filled.append(False)
        elif line.strip():
            prose = True
            if filled:
                filled[-1] = True
    return not prose or not all(filled)


def _last_number(session: Session) -> int | None:
    return session.scalar(select(func.max(InformationText.number)))


def _version(row: InformationText) -> InformationVersion:
    published_on = row.published_at.astimezone(PARIS).date()
    return InformationVersion(str(row.number), published_on, row.text)
