"""The demo's mailbox: the outbox's latest messages and their links, in development only.

`make run` sends no e-mail (no SMTP_HOST): a newcomer who signs up, resets a password or
invites someone reads the message, and follows its link, here. Anywhere else than ENV=
development the page does not exist: the messages carry every link's token.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import abort, render_template

from accounts.models import Role
from notifications import outbox
from web.admin.blueprint import bp
from web.auth.guard import role_required
from web.runtime import db, runtime

P = ParamSpec("P")
R = TypeVar("R")


def development_only(view: Callable[P, R]) -> Callable[P, R]:
    """A 404 outside ENV=development, before any login is asked for."""

    @wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        if not runtime().settings.shows_demo_aids:
            abort(404)
        return view(*args, **kwargs)

    return guarded


@bp.get("/courriels")
@development_only
@role_required(Role.ADMIN)
def courriels() -> str:
    return render_template(
        "admin/courriels.html",
        messages=outbox.latest_messages(db()),
        smtp_configured=bool(runtime().settings.smtp.host),
    )
