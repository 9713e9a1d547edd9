"""The inbox's query string: read and checked into a tab, filters and page, and written back.

Everything the inbox shows is in the address (GET form), so a view can be bookmarked, shared
with a colleague or saved under a name. A value that is not one the page offers gets a
French message and a 400, never a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import cast, get_args
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from procedures.inbox.choices import ProcedureChoice, ServiceChoice
from procedures.inbox.listing import TABS, InboxFilters, Tab
from procedures.working_hours import SlaColor, WorkingCalendar

DEFAULT_TAB: Tab = "a_traiter"
MAX_TEXT = 100
MAX_PAGE = 100_000
# The query string's names, in the order they are written back.
NAMES = ("onglet", "demarche", "service", "couleur", "du", "au", "q")


class BadInboxQuery(Exception):
    """A value of the query string the inbox does not offer; `message` is French."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Choices:
    """What the agent may pick from: the published procedures and its own services."""

    procedures: list[ProcedureChoice]
    services: list[ServiceChoice]


@dataclass(frozen=True)
class InboxQuery:
    tab: Tab
    filters: InboxFilters
    page: int
    values: dict[str, str] = field(default_factory=dict)  # as typed, for the form

    def query_string(self, **changes: str) -> str:
        """The address's query string, with `changes` and without the page unless given."""
        values = {**{name: self.values.get(name, "") for name in NAMES}, **changes}
        return urlencode([(name, value) for name, value in values.items() if value])

    @property
    def filtered(self) -> bool:
        return any(self.values.get(name) for name in NAMES if name != "onglet")


def parse_inbox_query(args: Mapping[str, str], choices: Choices) -> InboxQuery:
    """The tab, filters and page the query string asks for; BadInboxQuery otherwise."""
    values = {name: args.get(name, "").strip() for name in NAMES}
    first, last = _date(values["du"]), _date(values["au"])
    if first and last and first > last:
        raise BadInboxQuery(_("The start date is after the end date."))
    if len(values["q"]) > MAX_TEXT:
        raise BadInboxQuery(_("The search text is too long (100 characters at most)."))
    zone = _town_zone()
    filters = InboxFilters(
        procedure=_procedure(values["demarche"], choices),
        service_id=_service(values["service"], choices),
        color=_color(values["couleur"]),
        created_from=_midnight(first, zone) if first else None,
        created_before=_midnight(last + timedelta(days=1), zone) if last else None,
        text=values["q"],
    )
    values["onglet"] = values["onglet"] if values["onglet"] != DEFAULT_TAB else ""
    return InboxQuery(_tab(args.get("onglet", "")), filters, _page(args.get("page", "")), values)


def canonical(query_string: str, choices: Choices) -> str:
    """A saved filter's query string, checked and written the inbox's way (without the page)."""
    args = dict(parse_qsl(query_string, keep_blank_values=True))
    return parse_inbox_query(args, choices).query_string()


def _tab(value: str) -> Tab:
    if not value:
        return DEFAULT_TAB
    if value not in TABS:
        raise BadInboxQuery(_("Unknown inbox tab."))
    return value


def _procedure(value: str, choices: Choices) -> str | None:
    if not value:
        return None
    if value not in {choice.code for choice in choices.procedures}:
        raise BadInboxQuery(_("Unknown procedure."))
    return value


def _service(value: str, choices: Choices) -> int | None:
    if not value:
        return None
    number = as_number(value)
    if number is None or number not in {choice.id for choice in choices.services}:
        raise BadInboxQuery(_("Unknown service, or not one of yours."))
    return number


def _color(value: str) -> SlaColor | None:
    if not value:
        return None
    if value not in get_args(SlaColor):
        raise BadInboxQuery(_("Unknown deadline colour: choose vert, orange or rouge."))
    return cast(SlaColor, value)


def _date(value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value) if len(value) == 10 else _bad_date()
    except ValueError:
        return _bad_date()


def _bad_date() -> date:
    raise BadInboxQuery(_("Dates are written as YYYY-MM-DD, for example 2026-09-01."))


@cache
def _town_zone() -> ZoneInfo:
    # Once per process: a WorkingCalendar loads its public holidays when it is made.
    return ZoneInfo(WorkingCalendar().timezone)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _page(value: str) -> int:
    if not value:
        return 1
    number = as_number(value)
    if number is None or not 1 <= number <= MAX_PAGE:
        raise BadInboxQuery(_("The page number is not valid."))
    return number


def as_number(value: str) -> int | None:
    """A positive identifier or page number as typed in an address; None if it is not one."""
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        return None
    return int(value)
