"""Agent page: the sports school's and conservatoire's courses, their allocation of places
(a lottery when over-subscribed), withdrawals and the closing of the waiting lists."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from coffre.clock import local_today
from procedures.errors import Incomplete, InvalidTransition, TaskConflict
from procedures.lottery import board, places
from web.agent.blueprint import agent_actor, bp
from web.auth.guard import role_required
from web.runtime import db, runtime


def _guard() -> int:
    """The agent's account, when one of their services handles the courses (404 otherwise)."""
    agent = agent_actor()
    if board.handling_service(db()) not in agent.service_ids:
        abort(404)
    return agent.account_id


@bp.app_template_global()
def handles_course_draws() -> bool:
    """Whether the signed-in agent's services handle the courses: the navigation then links
    to « Tirages au sort » (read only when the navigation is drawn for an agent)."""
    if not current_user.is_authenticated or current_user.role is not Role.AGENT:
        return False
    service_ids: frozenset[int] = current_user.service_ids
    return bool(service_ids) and board.handling_service(db()) in service_ids


def _season() -> str:
    season = request.values.get("saison", "")
    return season if len(season) == 9 else board.current_season(local_today(runtime().clock))


def _back(season: str) -> BaseResponse:
    return redirect(url_for("agent.tirages", saison=season))


@bp.get("/tirages")
@role_required(Role.AGENT)
def tirages() -> str:
    _guard()
    season = _season()
    return render_template("agent/tirages.html", season=season, courses=board.board(db(), season))


@bp.post("/tirages/<course>")
@role_required(Role.AGENT)
def tirages_attribuer(course: str) -> BaseResponse:
    account_id, season = _guard(), _season()
    try:
        draw = places.allocate(
            db(), runtime().engine_context, course, season,
            request.form.get("graine", ""), account_id,
        )  # fmt: skip
    except Incomplete as exc:
        flash(" ".join(exc.problems), "error")
    except (InvalidTransition, TaskConflict):
        flash(_("No request of this course is waiting for a place."), "error")
    else:
        if draw.lottery:
            flash(_("The places were drawn by lottery; the others are on the waiting list."))
        else:
            flash(_("The places were allocated in filing order, without a draw."))
    return _back(season)


@bp.post("/tirages/desistement/<int:demande_id>")
@role_required(Role.AGENT)
def tirages_desistement(demande_id: int) -> BaseResponse:
    account_id, season = _guard(), _season()
    try:
        promoted = places.withdraw(
            db(), runtime().engine_context, demande_id, account_id,
            request.form.get("motif", ""),
        )  # fmt: skip
    except InvalidTransition:
        abort(409)
    flash(_("The place was given up; %(count)d request(s) moved up from the waiting list.",
            count=len(promoted)))  # fmt: skip
    return _back(season)


@bp.post("/tirages/<course>/clore")
@role_required(Role.AGENT)
def tirages_clore(course: str) -> BaseResponse:
    account_id, season = _guard(), _season()
    try:
        closed = places.close_waiting_list(
            db(), runtime().engine_context, course, season, account_id
        )
    except InvalidTransition:
        abort(404)
    flash(_("Waiting list closed: %(count)d request(s) ended without a place.", count=closed))
    return _back(season)
