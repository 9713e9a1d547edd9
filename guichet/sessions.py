"""Counter mode (guichet): an agent finds a family, opens its space and acts on its behalf.

Who may act for whom is `guichet.rights`: an agent opens only the foyers its
entities deal with (a demande their services handle) unless it works in a service that runs
the town's counter, and only those services issue family codes. The agent confirms that the
family is there and agrees (the page asks for it), and everything is on record in the
foyer's own journal chain, which the family exports with its vault: the opening and the
closing of the counter session, each family code issued, each act (`guichet.act`), and the
vault's own entries, which carry the agent's account id. Every adult of the foyer is
e-mailed when its space is opened, when a family code is issued for it, and what each act
changed (`guichet.acts`). A code used for a foyer that already has an account
waits for an adult's confirmation (`accounts.joining`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from accounts.activation import issue_family_code
from accounts.family import family_accounts
from accounts.models import Account, Entity, FamilyCode, Role
from coffre.clock import Clock
from coffre.journal import chain as journal
from coffre.models import Foyer, FoyerMember, JournalEntry, MemberRole
from guichet.rights import (
    CounterAgent,
    check_may_issue_codes,
    check_may_open,
    counter_agent,
    dealt_with,
)
from notifications.outbox import enqueue
from notifications.templates import COUNTER_OPENED_TEMPLATE, FAMILY_CODE_TEMPLATE
from procedures.models import DemandeEvent

SEARCH_LIMIT = 20
# Foyers read at most per search: a word of a letter or two matches nearly everyone.
SCAN_LIMIT = 2000
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae"})
# Letters that French names also write with an accent, a cedilla or as a ligature.
_VARIABLE = re.compile(r"(?:oe|ae|[aceinouy])+")
_FAMILY_CODE = re.compile(r"^F-?([A-Z0-9]{8})$")


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


def search_foyers(
    session: Session, agent_id: int, text: str, limit: int = SEARCH_LIMIT
) -> list[FoyerMatch]:
    """Live foyers the agent may open matching every word (label, an adult's or child's
    name) or the family code.

    Case and accents do not count ("lea" finds Léa); the first `limit` by label are given.
    CounterNotAllowed when the account is not an agent of a service.
    """
    agent = counter_agent(session, agent_id)
    words, code = search_words(text), _family_code(text)
    coded = select(FamilyCode.foyer_id).where(FamilyCode.code == code)
    conditions: list[ColumnElement[bool]] = [Foyer.id.in_(coded)] if code else []
    if words:
        conditions.append(and_(*(_may_match(word) for word in words)))
    if not conditions:
        return []
    candidates = session.scalars(
        select(Foyer)
        .where(Foyer.shredded_at.is_(None), or_(*conditions), dealt_with(agent))
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


def marks(session: Session) -> tuple[int, int]:
    """The newest journal entry and demande event ids: what is older was not done here."""
    journal_mark = session.scalar(select(func.max(JournalEntry.id))) or 0
    event_mark = session.scalar(select(func.max(DemandeEvent.id))) or 0
    return int(journal_mark), int(event_mark)


def open_counter(
    session: Session, clock: Clock, agent_id: int, foyer_id: int, *, link: str
) -> CounterSession:
    """Start acting for a foyer whose family is at the counter; journaled, commits.

    Every adult of the foyer is e-mailed (`link`: the family space's address).
    FoyerNotFound when the foyer is gone or none of the agent's entities deals with it;
    CounterNotAllowed when the account is not an agent of a service.
    """
    agent = counter_agent(session, agent_id)
    check_may_open(session, agent, foyer_id)  # FoyerNotFound too when gone or deleted
    entry = journal.record(session, clock, "guichet.opened", foyer_id=foyer_id, actor_id=agent_id)
    session.flush()
    _tell_adults(
        session,
        clock,
        agent,
        foyer_id,
        f"guichet-ouverture:{entry.id}",
        COUNTER_OPENED_TEMPLATE,
        link,
    )
    counter = CounterSession(agent_id, foyer_id, *marks(session))
    session.commit()
    return counter


def _tell_adults(
    session: Session,
    clock: Clock,
    agent: CounterAgent,
    foyer_id: int,
    key: str,
    template: str,
    link: str,
) -> None:
    """Queue the notice to every adult with an account in the foyer (none yet: nobody)."""
    account = session.get_one(Account, agent.id)
    entities = session.scalars(
        select(Entity.name).where(Entity.id.in_(agent.entity_ids)).order_by(Entity.name)
    )
    context = {"agent": account.display_name, "entite": ", ".join(entities), "lien": link}
    for adult in family_accounts(session, foyer_id):
        enqueue(
            session,
            clock,
            key=f"{key}:{adult.id}",
            recipient=adult.email,
            template=template,
            context=context,
        )


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
    choosing the e-mail address and password alone. Journaled; commits. CounterNotAllowed
    unless the agent works in a service that runs the counter.
    """
    check_may_issue_codes(counter_agent(session, agent_id))
    first, last = first_name.strip(), last_name.strip()
    foyer = Foyer(label=f"Foyer {first} {last}", created_at=clock.now())
    foyer.members = [FoyerMember(role=MemberRole.ADULTE, first_name=first, last_name=last)]
    session.add(foyer)
    session.flush()
    journal.record(session, clock, "guichet.foyer_created", foyer_id=foyer.id, actor_id=agent_id)
    journal.record(session, clock, "guichet.code_issued", foyer_id=foyer.id, actor_id=agent_id)
    code, one_time_code = issue_family_code(session, clock, foyer.id, issued_by=agent_id)
    return NewFoyer(foyer.id, code, one_time_code)  # issue_family_code committed it all


def new_family_code(
    session: Session, clock: Clock, agent_id: int, foyer_id: int, *, link: str
) -> NewFoyer:
    """Issue a new family code for a foyer (lost paper, second adult); journaled, commits.

    Every adult of the foyer is e-mailed (`link`: the family space's address); an adult
    who uses the code joins a foyer that has accounts only once one of them accepts.
    FoyerNotFound as for opening the foyer; CounterNotAllowed unless the agent works in a
    service that runs the counter.
    """
    agent = counter_agent(session, agent_id)
    check_may_open(session, agent, foyer_id)  # FoyerNotFound too when gone or deleted
    check_may_issue_codes(agent)
    entry = journal.record(
        session, clock, "guichet.code_issued", foyer_id=foyer_id, actor_id=agent_id
    )
    session.flush()
    _tell_adults(
        session, clock, agent, foyer_id, f"guichet-code:{entry.id}", FAMILY_CODE_TEMPLATE, link
    )
    code, one_time_code = issue_family_code(session, clock, foyer_id, issued_by=agent_id)
    return NewFoyer(foyer_id, code, one_time_code)
