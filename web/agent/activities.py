"""Agent pages: the activities of the agent's services, their sessions and closed days."""

from __future__ import annotations

from datetime import date, time
from typing import TypeVar

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role, Service
from coffre.clock import local_today
from reservations import activities
from reservations.activities import Definition, Timetable
from reservations.errors import BookingError, BookingNotFound, BookingRefused
from reservations.models import ActivityKind, BillingRule, CutoffRule
from web.agent.blueprint import agent_actor, bp
from web.agent.inbox_query import as_number
from web.auth.guard import role_required
from web.runtime import db, runtime

UPCOMING_DAYS = 56


def _services() -> frozenset[int]:
    return agent_actor().service_ids


def _list_page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    services = db().scalars(
        select(Service).where(Service.id.in_(_services())).order_by(Service.name)
    )
    page = render_template(
        "agent/activites.html",
        activities=activities.of_services(db(), _services()),
        services=services.all(),
        kinds=list(ActivityKind),
        rules=list(CutoffRule),
        billing_rules=list(BillingRule),
        error=error,
        form=request.form if request.method == "POST" else {},
    )
    return page, status


@bp.get("/activites")
@role_required(Role.AGENT)
def activites() -> tuple[str, int]:
    return _list_page()


@bp.post("/activites")
@role_required(Role.AGENT)
def activites_creer() -> tuple[str, int] | BaseResponse:
    form = request.form
    try:
        definition = Definition(
            service_id=_int(form.get("service", "")),
            name=form.get("nom", ""),
            kind=_choice(ActivityKind, form.get("type", "")),
            site=form.get("lieu", ""),
            cutoff_rule=_choice(CutoffRule, form.get("regle", "")),
            cutoff_count=_int(form.get("delai", "")),
            cutoff_time=_time(form.get("heure_limite", "")),
            capacity=_int(form["places"]) if form.get("places") else None,
            price_category=form.get("categorie", ""),
            min_age=_int(form["age_min"]) if form.get("age_min") else None,
            max_age=_int(form["age_max"]) if form.get("age_max") else None,
            billing_rule=_choice(BillingRule, form.get("facturation") or "reservation"),
        )
        activity = activities.define(db(), _services(), definition)
    except BookingError as error:
        return _list_page(error.message, 404 if isinstance(error, BookingNotFound) else 400)
    db().commit()
    flash(_("The activity is created: open its sessions now."), "success")
    return redirect(url_for("agent.activite", activity_id=activity.id), code=303)


def _detail_page(activity_id: int, error: str | None = None, status: int = 200) -> tuple[str, int]:
    try:
        activity = activities.activity_of(db(), _services(), activity_id)
    except BookingNotFound:
        abort(404)
    today = local_today(runtime().clock)
    page = render_template(
        "agent/activite.html",
        activity=activity,
        sessions=activities.upcoming(db(), activity.id, today, UPCOMING_DAYS),
        today=today,
        error=error,
    )
    return page, status


@bp.get("/activites/<int:activity_id>")
@role_required(Role.AGENT)
def activite(activity_id: int) -> tuple[str, int]:
    return _detail_page(activity_id)


@bp.post("/activites/<int:activity_id>")
@role_required(Role.AGENT)
def activite_modifier(activity_id: int) -> tuple[str, int] | BaseResponse:
    """Open sessions over a period, or close one day with its reason."""
    form = request.form
    try:
        activity = activities.activity_of(db(), _services(), activity_id)
        if form.get("action") == "ouvrir":
            timetable = Timetable(
                first_day=parse_date(form.get("du", "")),
                last_day=parse_date(form.get("au", "")),
                weekdays=frozenset(_int(day) for day in form.getlist("jours")),
                starts_at=_time(form.get("debut", "")),
                ends_at=_time(form.get("fin", "")),
                capacity=_int(form["places"]) if form.get("places") else None,
            )
            calendar = runtime().engine_context.calendar
            opened = activities.open_sessions(db(), calendar, activity.id, timetable)
            message = _("%(count)d sessions opened.", count=opened)
        elif form.get("action") == "fermer":
            activities.close_day(
                db(), activity.id, parse_date(form.get("jour", "")), form.get("motif", "")
            )
            message = _("The day is closed: nothing more can be booked on it.")
        else:
            raise BookingRefused(_("This change is not one the page offers."))
    except BookingNotFound:
        abort(404)
    except BookingError as error:
        db().rollback()
        return _detail_page(activity_id, error.message, 400)
    db().commit()
    flash(message, "success")
    return redirect(url_for("agent.activite", activity_id=activity_id), code=303)


def _int(value: str) -> int:
    number = as_number(value)
    if number is None:
        raise BookingRefused(_("A number is expected."))
    return number


def parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BookingRefused(_("A date is expected.")) from None


def _time(value: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise BookingRefused(_("A time is expected (for example 10:00).")) from None


Choice = TypeVar("Choice", ActivityKind, CutoffRule, BillingRule)


def _choice(kind: type[Choice], value: str) -> Choice:
    try:
        return kind(value)
    except ValueError:
        raise BookingRefused(_("This change is not one the page offers.")) from None
