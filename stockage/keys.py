"""The key rules shared by every backend, so that a key valid on one is valid on all."""

from __future__ import annotations

import unicodedata

from stockage.errors import InvalidKey

MAX_KEY_BYTES = 255
_FORBIDDEN_SEGMENTS = frozenset({"", ".", ".."})


def validate_key(key: object) -> str:
    """Return the key unchanged if it is legal, raise `InvalidKey` otherwise.

    Legal: a non-empty str of at most 255 UTF-8 bytes, without control characters or
    backslash, not starting with "/", whose "/"-separated segments are neither empty
    nor "." nor "..", and not made of whitespace only.
    """
    text = _checked_text(key, "key")
    if not text.strip():
        # MinIO's client refuses blank names, so no backend may accept them.
        raise InvalidKey(f"key must not be empty or blank: {_shown(text)}")
    _check_segments(text.split("/"), text, "key")
    return text


def validate_prefix(prefix: object) -> str:
    """Return the listing prefix unchanged if it is legal, raise `InvalidKey` otherwise.

    A prefix is the start of a key: it may be empty, end with "/" or stop in the
    middle of a segment, and otherwise follows the key rules.
    """
    text = _checked_text(prefix, "prefix")
    # The last segment may be incomplete ("a/." can start the legal key "a/.env").
    _check_segments(text.split("/")[:-1], text, "prefix")
    return text


def _checked_text(value: object, kind: str) -> str:
    if not isinstance(value, str):
        raise InvalidKey(f"{kind} must be a str, not {type(value).__name__}")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidKey(f"{kind} is not encodable as UTF-8: {_shown(value)}") from None
    if size > MAX_KEY_BYTES:
        raise InvalidKey(f"{kind} is {size} bytes long in UTF-8, the limit is {MAX_KEY_BYTES}")
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise InvalidKey(f"{kind} contains a control character: {_shown(value)}")
    if "\\" in value:
        raise InvalidKey(f"{kind} contains a backslash: {_shown(value)}")
    if value.startswith("/"):
        raise InvalidKey(f"{kind} must not start with '/': {_shown(value)}")
    return value


def _check_segments(segments: list[str], text: str, kind: str) -> None:
    if any(segment in _FORBIDDEN_SEGMENTS for segment in segments):
        raise InvalidKey(f"{kind} has an empty, '.' or '..' segment: {_shown(text)}")


def _shown(value: str) -> str:
    """The value as it may appear in a message: escaped and cut short."""
    return repr(value[:60] + "…" if len(value) > 60 else value)
