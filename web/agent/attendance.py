"""Agent pages: the day's sessions of the agent's services, their attendance sheets, the CSV."""

from __future__ import annotations

from datetime import date

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from coffre.clock import local_today
from reservations import attendance
from reservations.attendance import Agent
from reservations.errors import BookingError, BookingNotFound
from web.agent.blueprint import agent_actor, bp
from web.agent.inbox_query import as_number
from web.auth.guard import role_required
from web.runtime import db, runtime


def _agent() -> Agent:
    actor = agent_actor()
    return Agent(actor.account_id, actor.service_ids)


@bp.get("/presences")
@role_required(Role.AGENT)
def presences() -> str:
    try:
        day = date.fromisoformat(request.args.get("jour", ""))
    except ValueError:
        day = local_today(runtime().clock)
    slots = attendance.sessions_of_day(db(), _agent(), day)
    return render_template("agent/presences.html", day=day, slots=slots)


def _sheet_page(session_id: int, error: str | None = None, status: int = 200) -> tuple[str, int]:
    try:
        current = attendance.sheet(db(), _agent(), session_id)
    except BookingNotFound:
        abort(404)
    return render_template("agent/presences_feuille.html", sheet=current, error=error), status


@bp.get("/presences/<int:session_id>")
@role_required(Role.AGENT)
def presences_feuille(session_id: int) -> tuple[str, int]:
    return _sheet_page(session_id)


@bp.post("/presences/<int:session_id>")
@role_required(Role.AGENT)
def presences_pointer(session_id: int) -> tuple[str, int] | BaseResponse:
    """One tap (present, absent), a correction once closed (with its reason), or closing."""
    action = request.form.get("action", "")
    child = as_number(request.form.get("enfant", ""))
    clock, agent = runtime().clock, _agent()
    try:
        if action == "cloturer":
            attendance.close_sheet(db(), clock, agent, session_id)
            flash(_("The attendance sheet is closed and signed."), "success")
        elif action in ("present", "absent") and child is not None:
            present = action == "present"
            if not attendance.is_closed(db(), agent, session_id):
                attendance.mark(db(), clock, agent, session_id, child, present)
            else:
                reason = request.form.get("motif", "")
                attendance.correct(db(), clock, agent, session_id, child, present, reason)
                flash(_("The correction is recorded."), "success")
        else:
            return _sheet_page(session_id, _("This change is not one the page offers."), 400)
    except BookingNotFound:
        abort(404)
    except BookingError as error:
        return _sheet_page(session_id, error.message, 409)
    anchor = f"enfant-{child}" if child is not None else None
    target = url_for("agent.presences_feuille", session_id=session_id, _anchor=anchor)
    return redirect(target, code=303)


@bp.get("/presences/export.csv")
@role_required(Role.AGENT)
def presences_export() -> Response:
    """A site's attendance for a month (?site=...&mois=YYYY-MM)."""
    site = request.args.get("site", "").strip()
    try:
        month = date.fromisoformat(request.args.get("mois", "") + "-01")
    except ValueError:
        abort(400)
    if not site:
        abort(400)
    text = attendance.month_csv(db(), _agent(), site, month.year, month.month)
    name = f"presences-{month:%Y-%m}.csv"
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
