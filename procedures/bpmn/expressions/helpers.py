"""What diagram code may call: helpers by bare name, methods and attributes per type."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from procedures.bpmn.expressions.limits import (
    MAX_ROUND_DIGITS,
    MAX_SIZE,
    ExpressionError,
    UnsafeExpression,
)

# --- helpers callable by bare name -------------------------------------------------------


def _as_date(value: object, role: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ExpressionError(f"{role} is not a date (got a {type(value).__name__})")


def age_in_months(birth_date: object, on_date: object) -> int:
    """Whole months from `birth_date` to `on_date` (dates or ISO 'YYYY-MM-DD' strings)."""
    born, on = _as_date(birth_date, "birth date"), _as_date(on_date, "reference date")
    months = (on.year - born.year) * 12 + on.month - born.month
    return months - 1 if on.day < born.day else months


def age_in_years(birth_date: object, on_date: object) -> int:
    """Whole years from `birth_date` to `on_date`."""
    return age_in_months(birth_date, on_date) // 12


def days_between(start: object, end: object) -> int:
    """Days from `start` to `end` (negative when `end` comes first)."""
    return (_as_date(end, "end date") - _as_date(start, "start date")).days


def _round(number: Any, ndigits: object = None) -> Any:
    if ndigits is None:
        return round(number)
    if not isinstance(ndigits, int) or abs(ndigits) > MAX_ROUND_DIGITS:
        # round(5, -10**12) would compute 10**(10**12).
        raise UnsafeExpression(f"round() accepts at most {MAX_ROUND_DIGITS} digits")
    return round(number, ndigits)


def _sum(values: Iterable[Any]) -> Any:
    return sum(values)  # one argument only: sum(lists, []) would be quadratic


HELPERS: dict[str, Callable[..., Any]] = {
    "abs": abs, "all": all, "any": any, "bool": bool, "float": float, "int": int,
    "len": len, "max": max, "min": min, "round": _round, "sorted": sorted, "str": str,
    "sum": _sum, "date": date, "age_in_months": age_in_months, "age_in_years": age_in_years,
    "days_between": days_between,
}  # fmt: skip
_HELPER_KEYWORDS: dict[str, frozenset[str]] = {"sorted": frozenset({"reverse"})}


# --- methods and attributes on data --------------------------------------------------------


def _replace(text: str, old: str, new: str, count: int = -1) -> str:
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    if len(text) + found * (len(new) - len(old)) > MAX_SIZE:
        raise UnsafeExpression(f"replace() producing more than {MAX_SIZE} characters")
    return str.replace(text, old, new, count)


# Checked in this order: datetime before date, since a datetime is a date.
_KINDS: tuple[type, ...] = (datetime, date, str, dict, list, tuple)
_METHODS: dict[type, frozenset[str]] = {
    str: frozenset({
        "lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith", "casefold",
        "title", "capitalize", "isdigit", "isalpha", "isalnum", "isspace", "isdecimal",
        "split", "count", "find", "replace",
    }),
    dict: frozenset({"get", "keys", "values", "items"}),
    list: frozenset({"count", "index"}),
    tuple: frozenset({"count", "index"}),
    datetime: frozenset({"date", "isoformat", "weekday", "isoweekday"}),
    date: frozenset({"isoformat", "weekday", "isoweekday"}),
}  # fmt: skip
_ATTRIBUTES: dict[type, frozenset[str]] = {
    datetime: frozenset({"year", "month", "day", "hour", "minute", "second"}),
    date: frozenset({"year", "month", "day"}),
}
_METHOD_OVERRIDES: dict[tuple[type, str], Callable[..., Any]] = {
    (str, "replace"): _replace,
    (dict, "keys"): lambda d: list(dict.keys(d)),
    (dict, "values"): lambda d: list(dict.values(d)),
    (dict, "items"): lambda d: list(dict.items(d)),
}
_METHOD_NAMES = frozenset().union(*_METHODS.values())
_ATTRIBUTE_NAMES = frozenset().union(*_ATTRIBUTES.values())


def _kind(value: object) -> type | None:
    return next((kind for kind in _KINDS if isinstance(value, kind)), None)
