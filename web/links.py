"""The portal's public addresses, for e-mails and printed pages: built from BASE_URL only.

Never from the request: its Host header is the client's to choose, and a reset link built
from it would carry the victim's token to whichever host the sender named.
"""

from __future__ import annotations

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
