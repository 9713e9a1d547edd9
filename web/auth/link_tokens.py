"""Tokens of e-mailed links, moved out of the address as soon as the link is opened.

An e-mailed link can only carry its token in its address. Left there, the form's POST and
every reload would write it again into the access log, the browser's history and a proxy's
log. So the link's GET checks the token, keeps it in the signed session cookie and
redirects (303) to the same page without it; that page reads it back and checks it again
before using it.
"""

from __future__ import annotations

from flask import redirect, session, url_for
from werkzeug.wrappers import Response as BaseResponse

_PREFIX = "lien:"


def exchange(purpose: str, token: str, endpoint: str) -> BaseResponse:
    """Keep a checked token for `purpose`, and send the browser to `endpoint` without it."""
    session[_PREFIX + purpose] = token
    return redirect(url_for(endpoint), 303)


def kept(purpose: str) -> str:
    """The token kept for `purpose`, or "" when this browser opened no such link."""
    value = session.get(_PREFIX + purpose)
    return value if isinstance(value, str) else ""


def spend(purpose: str) -> None:
    """Forget the token once used: the page then says the link is no longer valid."""
    session.pop(_PREFIX + purpose, None)
