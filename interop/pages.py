"""Cursor pagination: a page of rows in (time, id) order, and an opaque cursor to the next one.

A cursor names the last row given, so a row changed while a client pages through moves to
the end instead of shifting every page after it: nothing is skipped, nothing given twice
within one walk; a client keeps the newest time it saw and asks `updated_since` next time.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypedDict, TypeVar, Unpack

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")
MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class InvalidCursor(ValueError):
    """A cursor this API did not give (or damaged on the way)."""


class Listing(TypedDict, total=False):
    """What a client may ask of a list: changes since a time, after a cursor, how many."""

    updated_since: datetime | None
    cursor: str | None
    limit: int


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


@dataclass(frozen=True)
class Position:
    at: datetime
    id: int


def encode(position: Position) -> str:
    text = f"{position.at.astimezone(UTC).isoformat()}|{position.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(cursor: str) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, ident = raw.partition("|")
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or not ident.isdigit():
            raise ValueError(raw)
        return Position(when, int(ident))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor(cursor) from None


def page(
    session: Session,
    query: Select[Any],
    time_column: InstrumentedAttribute[Any],
    id_column: InstrumentedAttribute[Any],
    **listing: Unpack[Listing],
) -> Page[Any]:
    """The rows of `query` after the cursor (or since the time), oldest change first."""
    updated_since, cursor = listing.get("updated_since"), listing.get("cursor")
    limit = max(1, min(listing.get("limit", DEFAULT_LIMIT), MAX_LIMIT))
    if updated_since is not None:
        query = query.where(time_column >= _aware(updated_since))
    if cursor:
        position = decode(cursor)
        query = query.where(
            or_(
                time_column > position.at,
                and_(time_column == position.at, id_column > position.id),
            )
        )
    rows = list(session.scalars(query.order_by(time_column, id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = encode(
            Position(_aware(getattr(last, time_column.key)), getattr(last, id_column.key))
        )
    return Page(rows, next_cursor)


def _aware(value: datetime) -> datetime:
    """Naive times (SQLite gives them back so) are UTC, as the application writes them."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
