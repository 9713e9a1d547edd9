"""The portal's public addresses, for e-mails and printed pages: built from BASE_URL only.

Never from the request: its Host header is the client's to choose, and a reset link built
from it would carry the victim's token to whichever host the sender named.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import url_for

from accounts.activation import LinkBuilder
from web.runtime import runtime


def absolute_url(endpoint: str, **values: Any) -> str:
    """The page's public address: BASE_URL followed by the page's path."""
    return runtime().settings.base_url + url_for(endpoint, **values)


def token_link(endpoint: str) -> LinkBuilder:
    """A builder of the public address of a page reached with a token (for e-mails)."""

    def build(token: str) -> str:
        return absolute_url(endpoint, token=token)

    return build


# Stands for the id while an address's pattern is built (the largest id a route accepts).
SOME_ID = str(2**31 - 1)


def id_link(endpoint: str, id_name: str, **values: Any) -> Callable[[int], str]:
    """A builder of the page's address for any id (the path's or the query's `id_name`).

    `url_for` runs once, not once per row of a page that lists hundreds of rows: it costs
    more than the rest of a row.
    """
    address = url_for(endpoint, **{**values, id_name: SOME_ID})
    head, _id, tail = address.rpartition(SOME_ID)

    def build(some_id: int) -> str:
        return f"{head}{some_id}{tail}"

    return build
