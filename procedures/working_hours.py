"""Deadlines counted in working hours: a town's opening hours, minus weekends and public holidays.

Pessac promises every action validated within 48 working hours; this module turns such a
promise into an instant and measures how much of it a demande has used.

Rules shared by every function here:

- Instants come in and go out as timezone-aware datetimes; results are in UTC. A naive
  datetime is refused with ``ValueError`` (the project's ``Clock`` gives aware UTC).
- Opening hours are local wall-clock times in the town's time zone (Europe/Paris by default),
  so 8:30 stays 8:30 across the March and October clock changes.
- Working time is real elapsed time inside the opening windows. With the usual hours the
  clock change happens at night and every working day lasts ``closes - opens``; a window that
  spans the change (a town open 01:00–04:00) is one hour shorter or longer that day.
- Public holidays are those of metropolitan France from the ``holidays`` library, plus Good
  Friday and 26 December for Alsace-Moselle (subdivision "57", "67", "68" or "6AE").
  Whit Monday counts as a holiday, as the library lists it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

SlaColor = Literal["vert", "orange", "rouge"]

WEEKDAYS = frozenset({0, 1, 2, 3, 4})

# The library names Alsace "6AE" (Collectivité européenne d'Alsace); towns know their département.
_SUBDIVISION_ALIASES = {"67": "6AE", "68": "6AE"}
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class WorkingCalendar:
    """A town's opening hours and public holidays.

    ``weekdays`` uses ``date.weekday()`` numbering (Monday is 0). ``subdivision`` is a
    département code for local holidays, ``None`` for metropolitan France.
    """

    opens: time = time(8, 30)
    closes: time = time(17, 30)
    weekdays: frozenset[int] = field(default=WEEKDAYS)
    subdivision: str | None = None
    timezone: str = "Europe/Paris"

    def __post_init__(self) -> None:
        if self.opens.tzinfo is not None or self.closes.tzinfo is not None:
            raise ValueError("opening hours are local wall-clock times, without tzinfo")
        if self.opens >= self.closes:
            raise ValueError("a working day must close after it opens, on the same day")
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise ValueError("weekdays must be a non-empty set of numbers from 0 (Monday) to 6")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone: {self.timezone!r}") from error
        try:
            holidays.country_holidays("FR", subdiv=_library_subdivision(self.subdivision))
        except NotImplementedError as error:
            raise ValueError(f"unknown French subdivision: {self.subdivision!r}") from error

    @property
    def working_day(self) -> timedelta:
        """The nominal length of one working day, ``closes - opens``."""
        return datetime.combine(date.min, self.closes) - datetime.combine(date.min, self.opens)

    def is_working_day(self, day: date) -> bool:
        """Whether the town is open on ``day``: an opening weekday that is not a holiday."""
        if day.weekday() not in self.weekdays:
            return False
        return day not in _public_holidays(_library_subdivision(self.subdivision), day.year)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which ``duration`` of working time has elapsed since ``start``.

        A start outside working hours counts from the next opening. A deadline landing
        exactly on closing time is that closing time, not the next morning's opening, so for
        a positive duration the result is always on a working day, after opening and no later
        than closing. A zero duration returns ``start`` unchanged (in UTC), even outside
        working hours. A negative duration raises ``ValueError``.
        """
        cursor = _as_utc(start, "start")
        if duration < timedelta(0):
            raise ValueError("a duration of working time cannot be negative")
        if not duration:
            return cursor
        remaining = duration
        for opening, closing in self._windows_from(cursor):
            begin = max(opening, cursor)
            available = closing - begin
            if remaining <= available:
                return begin + remaining
            if available > timedelta(0):
                remaining -= available
        raise AssertionError("unreachable: the windows never run out")  # pragma: no cover

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """The working time elapsed from ``start`` to ``end``; zero if ``end <= start``."""
        start_utc, end_utc = _as_utc(start, "start"), _as_utc(end, "end")
        elapsed = timedelta(0)
        for opening, closing in self._windows_from(start_utc):
            if opening >= end_utc:
                break
            overlap = min(closing, end_utc) - max(opening, start_utc)
            if overlap > timedelta(0):
                elapsed += overlap
        return elapsed

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """``start`` plus ``days`` working days, each worth ``working_day`` of working time.

        Two working days from Thursday 10:00 is Monday 10:00 in a normal week.
        """
        if days < 0:
            raise ValueError("a number of working days cannot be negative")
        return self.add(start, days * self.working_day)

    def _windows_from(self, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The UTC opening windows of each working day, from ``instant``'s local date onwards.

        Endless: callers stop when they have what they need. Days are walked one at a time,
        never minute by minute, so a year of deadlines costs a few hundred steps.
        """
        zone = ZoneInfo(self.timezone)
        day = instant.astimezone(zone).date()
        while True:
            if self.is_working_day(day):
                opening = datetime.combine(day, self.opens, tzinfo=zone).astimezone(UTC)
                closing = datetime.combine(day, self.closes, tzinfo=zone).astimezone(UTC)
                yield opening, closing
            day += _ONE_DAY


def sla_color(elapsed: timedelta, allowed: timedelta) -> SlaColor:
    """The colour of a deadline's progress bar: "vert", "orange" from 75 %, "rouge" past it.

    Exactly the allowed time is still "orange"; only ``elapsed > allowed`` is "rouge".
    """
    if allowed < timedelta(0):
        raise ValueError("the allowed time cannot be negative")
    if elapsed > allowed:
        return "rouge"
    # Integer microseconds: no rounding at the 75 % boundary.
    if elapsed * 4 >= allowed * 3:
        return "orange"
    return "vert"


def _as_utc(instant: datetime, name: str) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got a naive one")
    return instant.astimezone(UTC)


def _library_subdivision(subdivision: str | None) -> str | None:
    if subdivision is None:
        return None
    return _SUBDIVISION_ALIASES.get(subdivision, subdivision)


@cache
def _public_holidays(subdivision: str | None, year: int) -> frozenset[date]:
    """One year of French public holidays, loaded on first use and kept."""
    return frozenset(holidays.country_holidays("FR", subdiv=subdivision, years=year))
