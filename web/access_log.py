"""Gunicorn's access log without secrets or searches: `--logger-class web.access_log.MaskingLogger`.

An e-mailed link carries its token in its path (the page moves it into the session at once,
web.auth.link_tokens, but that first request is still logged), and the counter's and the inbox's
searches carry family names in their query string. Access logs are kept for months and read
by people who must not see either. Each logged value that holds an address (request line,
path, query string, Referer, the environ's copies) has the token path segment and the
searched values replaced by `***`; on the counter's pages every query value is.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

MASK = "***"
# Paths whose next segment is a token (web.auth.account, web.admin.agents), except the
# token-free pages under the same prefixes.
TOKEN_PREFIXES = (
    "/activation/", "/mot-de-passe/", "/invitation/", "/admin/invitation/",
    "/actualites/desabonnement/",  # web.messagerie.news: the news e-mails' unsubscribe link
)  # fmt: skip
TOKEN_FREE_PAGES = ("code", "confirmer", "nouveau", "foyer", "mot-de-passe")
# Query parameters that hold what someone searched for or who they are, on any page;
# `next` holds a whole address (the login page's return to a search).
PERSONAL_PARAMETERS = ("q", "search", "recherche", "nom", "prenom", "email", "token", "next")
COUNTER_PATH = "/agent/guichet"

_END = r"""(?=[/?#\s"]|$)"""
_TOKEN_SEGMENT = re.compile(
    "(" + "|".join(re.escape(prefix) for prefix in TOKEN_PREFIXES) + ")"
    + "(?!(?:" + "|".join(TOKEN_FREE_PAGES) + ")" + _END + r""")[^/?#\s"]+"""
)  # fmt: skip
_PERSONAL_VALUE = re.compile(
    r"((?:^|[?&])(?:" + "|".join(PERSONAL_PARAMETERS) + r""")=)[^&#\s"]*""", re.IGNORECASE
)
_ANY_VALUE = re.compile(r"""((?:^|[?&])[^=&#?\s"]+=)[^&#\s"]*""")


def mask(text: str, *, counter: bool = False) -> str:
    """`text` (an address, a request line or a query string) without tokens or searches.

    `counter`: the request is for a counter page, where every query value is masked.
    """
    text = _TOKEN_SEGMENT.sub(r"\1" + MASK, text)
    every_value = counter or COUNTER_PATH in text
    return (_ANY_VALUE if every_value else _PERSONAL_VALUE).sub(r"\1" + MASK, text)


class MaskingLogger(Logger):
    """Gunicorn's logger whose access log masks tokens and searches (see `mask`)."""

    def atoms(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta
    ) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        counter = str(environ.get("PATH_INFO", "")).startswith(COUNTER_PATH)
        return {
            key: mask(value, counter=counter) if isinstance(value, str) else value
            for key, value in atoms.items()
        }
