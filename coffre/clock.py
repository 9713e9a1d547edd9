"""The only source of "now": services take a Clock so tests move time instead of sleeping."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

# Where the towns are: validity dates, issue dates and opening windows are French dates.
PARIS = ZoneInfo("Europe/Paris")


class Clock(Protocol):
    def now(self) -> datetime: ...


def local_today(clock: Clock) -> date:
    """Today's date in France, where validity dates are counted."""
    return clock.now().astimezone(PARIS).date()


class SystemClock:
    """Wall-clock time, timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FrozenClock:
    """A clock that stands still until told to move (tests, replays)."""

    current: datetime = field(default_factory=lambda: datetime(2026, 9, 1, 8, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta
