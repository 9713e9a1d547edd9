"""An agent's saved inbox filters: a name and the inbox page's query string, reopened in one click.

The query string is kept as the page wrote it; the inbox page checks it again on every
visit, as it checks any address typed by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coffre.clock import Clock
from procedures.errors import DemandeNotFound
from procedures.models import SavedFilter

MAX_NAME = 80
MAX_QUERY = 2000


def saved_filters(session: Session, account_id: int) -> Sequence[SavedFilter]:
    """The agent's saved filters, by name."""
    query = select(SavedFilter).where(SavedFilter.account_id == account_id)
    return session.scalars(query.order_by(SavedFilter.name, SavedFilter.id)).all()


def save_filter(
    session: Session, clock: Clock, account_id: int, name: str, query: str
) -> SavedFilter:
    """Save the filters under a name; a name the agent already uses gets the new filters.

    Raises ValueError on an empty or too long name, or a too long query string.
    """
    name = " ".join(name.split())
    if not 1 <= len(name) <= MAX_NAME:
        raise ValueError(f"a filter's name has 1 to {MAX_NAME} characters")
    if len(query) > MAX_QUERY:
        raise ValueError(f"a filter's query string has at most {MAX_QUERY} characters")
    saved = _named(session, account_id, name)
    if saved is None:
        saved = SavedFilter(account_id=account_id, name=name, query=query, created_at=clock.now())
        session.add(saved)
    saved.query = query
    try:
        session.commit()
    except IntegrityError:
        # The same name saved at the same moment in another tab: that one wins, then ours.
        session.rollback()
        saved = _named(session, account_id, name)
        assert saved is not None
        saved.query = query
        session.commit()
    return saved


def delete_filter(session: Session, account_id: int, filter_id: int) -> None:
    """Forget one of the agent's saved filters; "not found" for anyone else's."""
    saved = session.get(SavedFilter, filter_id)
    if saved is None or saved.account_id != account_id:
        raise DemandeNotFound(f"saved filter {filter_id} is not account {account_id}'s")
    session.delete(saved)
    session.commit()


def _named(session: Session, account_id: int, name: str) -> SavedFilter | None:
    return session.scalar(
        select(SavedFilter).where(SavedFilter.account_id == account_id, SavedFilter.name == name)
    )
