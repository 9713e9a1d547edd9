"""The adults of a foyer accept or refuse whoever used a family code to join it.

The family's home page shows each undecided request with its two buttons; the account
waiting for them sees only its waiting page (web.auth.role_required). Agents at the counter
see neither: letting someone into a foyer is its adults' decision alone
(web.agent.guichet_session.FORBIDDEN_ENDPOINTS). The rules are accounts.joining.
"""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from accounts import joining
from accounts.joining import JoinRequestNotFound, PendingJoin
from accounts.models import Role
from web.auth.guard import role_required
from web.counter import acted_foyer_id
from web.famille.blueprint import bp, family_reader
from web.links import absolute_url
from web.runtime import db, runtime


def pending() -> list[PendingJoin]:
    """Who waits to join the family's foyer, for its home page (nobody in counter mode)."""
    if acted_foyer_id() is not None:
        return []
    return joining.pending_joins(db(), family_reader().foyer_id)


@bp.post("/foyer/rejoindre/<int:join_id>/accepter")
@role_required(Role.FAMILLE)
def rejoindre_accepter(join_id: int) -> BaseResponse:
    try:
        joining.accept(
            db(),
            runtime().clock,
            join_id,
            adult_id=current_user.id,
            link=absolute_url("famille.index"),
        )
    except JoinRequestNotFound:
        abort(404)
    flash(_("The person has joined your household."), "success")
    return redirect(url_for("famille.index"), 303)


@bp.post("/foyer/rejoindre/<int:join_id>/refuser")
@role_required(Role.FAMILLE)
def rejoindre_refuser(join_id: int) -> BaseResponse:
    try:
        joining.refuse(db(), runtime().clock, join_id, adult_id=current_user.id)
    except JoinRequestNotFound:
        abort(404)
    flash(_("The request was refused and the account it created was closed."), "info")
    return redirect(url_for("famille.index"), 303)
