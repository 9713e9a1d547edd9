"""Agent page: the shared custodies of the service's children, and moving an alternation."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from reservations import custody
from reservations.errors import BookingError, BookingNotFound
from web.agent.activities import parse_date
from web.agent.blueprint import agent_actor, bp
from web.auth.guard import role_required
from web.runtime import db, runtime


def _page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    lines = custody.of_services(db(), agent_actor().service_ids)
    return render_template("agent/gardes.html", lines=lines, error=error), status


@bp.get("/gardes")
@role_required(Role.AGENT)
def gardes() -> tuple[str, int]:
    return _page()


@bp.post("/gardes/<int:custody_id>")
@role_required(Role.AGENT)
def garde_modifier(custody_id: int) -> tuple[str, int] | BaseResponse:
    """Set the Monday from which the first home's weeks alternate again."""
    try:
        custody.custody_for(db(), agent_actor().service_ids, custody_id)
        monday = parse_date(request.form.get("premier_lundi", ""))
        custody.change_alternation(
            db(), runtime().clock, agent_actor().service_ids, custody_id, monday
        )
    except BookingNotFound:
        abort(404)
    except BookingError as error:
        db().rollback()
        return _page(error.message, 400)
    db().commit()
    flash(_("The alternation is changed: each home books its new weeks."), "success")
    return redirect(url_for("agent.gardes"), code=303)
