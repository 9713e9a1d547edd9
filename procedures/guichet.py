"""Counter mode (guichet): an agent finds a family, opens its space and acts on its behalf.

Who may act for whom: any agent (an account of role agent, member of at least one service)
may act for any live foyer, because the family is standing at the counter and asks for it.
The agent confirms that the family was told (the page asks for it), and everything is on
record in the foyer's own journal chain, which the family exports with its vault: the
opening and the closing of the counter session, each act (`guichet.act`), and the vault's
own entries, which carry the agent's account id. What was done is e-mailed to the family
(`procedures.guichet_actes`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from coffre import journal
from coffre.clock import Clock
from coffre.models import Foyer, FoyerMember, JournalEntry, MemberRole
from procedures.accounts import FoyerNotFound
from procedures.activation import issue_family_code
from procedures.demande_models import DemandeEvent
from procedures.models import Account, AgentService, FamilyCode, Role

SEARCH_LIMIT = 20
# Foyers read at most per search: a word of a letter or two matches nearly everyone.
SCAN_LIMIT = 2000
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae"})
# Letters that French names also write with an accent, a cedilla or as a ligature.
_VARIABLE = re.compile(r"(?:oe|ae|[aceinouy])+")
_FAMILY_CODE = re.compile(r"^F-?([A-Z0-9]{8})$")


class CounterNotAllowed(Exception):
    """The account is not an agent of any service: it may not act for a family."""


@dataclass(frozen=True)
class CounterSession:
    """An agent acting for a foyer, and the last journal entry and event it has accounted for."""

    agent_id: int
    foyer_id: int
    journal_mark: int
    event_mark: int


@dataclass(frozen=True)
class FoyerMatch:
    """One foyer found at the counter, with what lets the agent recognise the family."""

    foyer_id: int
    label: str
    city: str
    adults: tuple[str, ...]
    children: tuple[str, ...]
    has_account: bool


@dataclass(frozen=True)
class NewFoyer:
    """A foyer created at the counter, and the codes to hand to the parent on paper."""

    foyer_id: int
    family_code: str
    one_time_code: str = field(repr=False)  # a secret until the parent uses it


# --- search -------------------------------------------------------------------------------


def search_words(text: str) -> tuple[str, ...]:
    """The words of a text, lowercase and without accents: how names are compared."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_LIGATURES))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return tuple(re.findall(r"[a-z0-9]+", plain))


def _family_code(text: str) -> str | None:
    match = _FAMILY_CODE.match(text.strip().upper().replace(" ", ""))
    return f"F-{match.group(1)}" if match else None


def _may_match(word: str) -> ColumnElement[bool]:
    """A SQL condition every foyer matching the word meets (and a few others).

    Accents cannot be folded in portable SQL (SQLite's lower() knows ASCII only, PostgreSQL's
    unaccent is an extension), so the letters that may carry one become wildcards and the
    exact comparison is made in Python on the few foyers this lets through.
    """
    pattern = "%" + _VARIABLE.sub("%", word) + "%"  # the word holds [a-z0-9] only
    pattern = re.sub("%+", "%", pattern)
    named = select(FoyerMember.foyer_id).where(
        or_(FoyerMember.first_name.ilike(pattern), FoyerMember.last_name.ilike(pattern))
    )
    return or_(Foyer.label.ilike(pattern), Foyer.id.in_(named))


def _matches(foyer: Foyer, words: tuple[str, ...]) -> bool:
    names = [foyer.label] + [f"{m.first_name} {m.last_name}" for m in foyer.members]
    folded = " ".join(" ".join(search_words(name)) for name in names)
    return all(word in folded for word in words)


def search_foyers(session: Session, text: str, limit: int = SEARCH_LIMIT) -> list[FoyerMatch]:
    """Live foyers matching every word (label, an adult's or child's name) or the family code.

    Case and accents do not count ("lea" finds Léa); the first `limit` by label are given.
    """
    words, code = search_words(text), _family_code(text)
    coded = select(FamilyCode.foyer_id).where(FamilyCode.code == code)
    conditions: list[ColumnElement[bool]] = [Foyer.id.in_(coded)] if code else []
    if words:
        conditions.append(and_(*(_may_match(word) for word in words)))
    if not conditions:
        return []
    candidates = session.scalars(
        select(Foyer)
        .where(Foyer.shredded_at.is_(None), or_(*conditions))
        .order_by(Foyer.label, Foyer.id)
        .limit(SCAN_LIMIT)
        .options(selectinload(Foyer.members))
    ).all()
    by_code = set(session.scalars(coded)) if code else set()
    found = [f for f in candidates if f.id in by_code or (words and _matches(f, words))]
    return _with_accounts(session, found[:limit])


def _with_accounts(session: Session, foyers: list[Foyer]) -> list[FoyerMatch]:
    with_account = set(
        session.scalars(
            select(Account.foyer_id).where(
                Account.foyer_id.in_([foyer.id for foyer in foyers]),
                Account.role == Role.FAMILLE,
                Account.is_active.is_(True),
            )
        )
    )
    return [_match(foyer, foyer.id in with_account) for foyer in foyers]


def _match(foyer: Foyer, has_account: bool) -> FoyerMatch:
    def names(role: MemberRole) -> tuple[str, ...]:
        return tuple(f"{m.first_name} {m.last_name}" for m in foyer.members if m.role is role)

    return FoyerMatch(
        foyer_id=foyer.id,
        label=foyer.label,
        city=foyer.city,
        adults=names(MemberRole.ADULTE),
        children=names(MemberRole.ENFANT),
        has_account=has_account,
    )


# --- opening and closing ------------------------------------------------------------------


def _check_agent(session: Session, agent_id: int) -> None:
    account = session.get(Account, agent_id)
    member = session.scalar(
        select(AgentService.service_id).where(AgentService.account_id == agent_id).limit(1)
    )
    if account is None or account.role is not Role.AGENT or not account.is_active or not member:
        raise CounterNotAllowed(f"account {agent_id} is not an agent of a service")


def live_foyer(session: Session, foyer_id: int) -> Foyer:
    """The foyer, unless it does not exist or was deleted (FoyerNotFound)."""
    foyer = session.get(Foyer, foyer_id)
    if foyer is None or foyer.shredded_at is not None:
        raise FoyerNotFound()
    return foyer


def marks(session: Session) -> tuple[int, int]:
    """The newest journal entry and demande event ids: what is older was not done here."""
    journal_mark = session.scalar(select(func.max(JournalEntry.id))) or 0
    event_mark = session.scalar(select(func.max(DemandeEvent.id))) or 0
    return int(journal_mark), int(event_mark)


def open_counter(session: Session, clock: Clock, agent_id: int, foyer_id: int) -> CounterSession:
    """Start acting for a foyer whose family is at the counter; journaled, commits."""
    _check_agent(session, agent_id)
    live_foyer(session, foyer_id)
    journal.record(session, clock, "guichet.opened", foyer_id=foyer_id, actor_id=agent_id)
    session.flush()
    counter = CounterSession(agent_id, foyer_id, *marks(session))
    session.commit()
    return counter


def close_counter(session: Session, clock: Clock, counter: CounterSession) -> None:
    """Stop acting for the foyer; journaled, commits."""
    journal.record(
        session, clock, "guichet.closed", foyer_id=counter.foyer_id, actor_id=counter.agent_id
    )
    session.commit()


# --- a family that comes to the counter first -----------------------------------------------


def create_foyer(
    session: Session,
    clock: Clock,
    agent_id: int,
    *,
    first_name: str,
    last_name: str,
) -> NewFoyer:
    """Create a foyer with its first adult, and the family code the parent activates with.

    The parent then creates the account with the codes (`activation.activate_with_code`),
    choosing the e-mail address and password alone. Journaled; commits.
    """
    _check_agent(session, agent_id)
    first, last = first_name.strip(), last_name.strip()
    foyer = Foyer(label=f"Foyer {first} {last}", created_at=clock.now())
    foyer.members = [FoyerMember(role=MemberRole.ADULTE, first_name=first, last_name=last)]
    session.add(foyer)
    session.flush()
    journal.record(session, clock, "guichet.foyer_created", foyer_id=foyer.id, actor_id=agent_id)
    code, one_time_code = issue_family_code(session, clock, foyer.id)  # commits both
    return NewFoyer(foyer.id, code, one_time_code)


def new_family_code(session: Session, clock: Clock, agent_id: int, foyer_id: int) -> NewFoyer:
    """Issue a new family code for a foyer (lost paper, second adult); journaled, commits."""
    _check_agent(session, agent_id)
    live_foyer(session, foyer_id)
    journal.record(session, clock, "guichet.code_issued", foyer_id=foyer_id, actor_id=agent_id)
    code, one_time_code = issue_family_code(session, clock, foyer_id)
    return NewFoyer(foyer_id, code, one_time_code)
