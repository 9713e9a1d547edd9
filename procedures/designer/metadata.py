"""A procedure's metadata written back as TOML, for the designer's editor.

Published versions keep their metadata as JSON; administrators edit the same TOML as the
files in `workflows_bpmn/`. Values equal to their defaults are left out, so the text shows
what the procedure sets; `load_definition` reads it back to an equal `Definition`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any

from procedures.definitions import Definition

MONTH_DAY_KEYS = frozenset({"opens", "closes", "season_start"})
INLINE_TABLES = frozenset({"timeout_data", "when"})
# The order the built-in files use: the header first, then what the family sees, then routing.
ORDER = (
    "code", "title", "description", "retention_days", "retention_rule", "retention_from",
    "opens_on", "season_start", "window",
    "fields",
    "documents", "lanes", "ends", "tasks",
)  # fmt: skip
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def definition_toml(definition: Definition) -> str:
    """The metadata as TOML text."""
    plain = _plain(definition)
    return toml_text({key: plain[key] for key in ORDER if key in plain})


def toml_text(table: Mapping[str, Any]) -> str:
    """Any mapping of TOML-able values (strings, numbers, booleans, lists, tables) as TOML."""
    lines: list[str] = []
    _table(lines, [], table)
    return "\n".join(lines).strip() + "\n"


def _plain(value: Any, key: str = "") -> Any:
    """Dataclasses to dicts without their defaults; (month, day) pairs to "MM-DD"."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        result = {}
        for item in dataclasses.fields(value):
            field_value = getattr(value, item.name)
            if _is_default(item, field_value) or field_value in (None, "", (), [], {}):
                continue
            result[item.name] = _plain(field_value, item.name)
        return result
    if key in MONTH_DAY_KEYS:
        month, day = value
        return f"{month:02d}-{day:02d}"
    if isinstance(value, Mapping):
        return {name: _plain(item, name) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _is_default(item: dataclasses.Field[Any], value: Any) -> bool:
    if item.default is not dataclasses.MISSING:
        return bool(value == item.default) and item.name != "retention_days"
    return False


def _table(lines: list[str], path: list[str], table: Mapping[str, Any]) -> None:
    for key, value in table.items():
        if not _is_table(key, value) and not _is_table_array(value):
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in table.items():
        if _is_table(key, value):
            lines += ["", f"[{_dotted([*path, key])}]"]
            _table(lines, [*path, key], value)
        elif _is_table_array(value):
            for item in value:
                lines += ["", f"[[{_dotted([*path, key])}]]"]
                _table(lines, [*path, key], item)


def _is_table(key: str, value: Any) -> bool:
    return isinstance(value, Mapping) and key not in INLINE_TABLES


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(i, Mapping) for i in value)


def _dotted(path: list[str]) -> str:
    return ".".join(_key(part) for part in path)


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _string(text: str) -> str:
    # JSON's escapes (\", \\, \n, \uXXXX) are TOML's basic string escapes too.
    return json.dumps(text, ensure_ascii=False)
