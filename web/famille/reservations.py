"""The family's bookings: a week per child, and booking, cancelling or taking a freed place."""

from __future__ import annotations

from datetime import date, timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from coffre.clock import local_today
from coffre.models import FoyerMember, MemberRole
from procedures import demandes
from procedures.demandes import FamilyActor
from reservations import bookings
from reservations.bookings import Booker, Context
from reservations.calendar import family_days, family_week
from reservations.errors import BookingError, BookingNotFound, BookingRefused
from reservations.models import Channel
from reservations.registrations import ABSENCE
from web.auth.guard import role_required
from web.counter import acted_foyer_id
from web.famille.blueprint import bp, family_reader
from web.runtime import db, runtime

ACTIONS = ("reserver", "annuler", "confirmer", "semaines")
CHILD = MemberRole.ENFANT


def _context() -> Context:
    rt = runtime()
    return Context(
        clock=rt.clock, calendar=rt.engine_context.calendar, base_url=rt.settings.base_url
    )


FIRST_YEAR, LAST_YEAR = 2000, 2100  # pages asked for outside these fall back to today


def _asked(given: str | None) -> date:
    """The day an address asks for (YYYY-MM-DD), or today if it asks for none we can show."""
    try:
        day = date.fromisoformat(given or "")
    except ValueError:
        return local_today(runtime().clock)
    return day if FIRST_YEAR <= day.year <= LAST_YEAR else local_today(runtime().clock)


def _monday(given: str | None) -> date:
    """The Monday of the week asked for (?semaine=YYYY-MM-DD), or of this week."""
    day = _asked(given)
    return day - timedelta(days=day.weekday())


def _page(monday: date, error: str | None = None, status: int = 200) -> tuple[str, int]:
    weeks = family_week(db(), _context(), family_reader().foyer_id, monday)
    page = render_template(
        "famille/reservations.html",
        weeks=weeks,
        monday=monday,
        sunday=monday + timedelta(days=6),
        previous=monday - timedelta(days=7),
        weekdays=[
            (number, format_date(monday + timedelta(days=number), "EEEE")) for number in range(5)
        ],
        following=monday + timedelta(days=7),
        error=error,
    )
    return page, status


@bp.get("/reservations")
@role_required(Role.FAMILLE)
def reservations() -> tuple[str, int]:
    return _page(_monday(request.args.get("semaine")))


@bp.get("/reservations/mois")
@role_required(Role.FAMILLE)
def reservations_mois() -> str:
    """The month at a glance (?mois=YYYY-MM): each day's state; changes are made by week."""
    first = _asked(request.args.get("mois", "") + "-01").replace(day=1)
    following = (first + timedelta(days=31)).replace(day=1)
    last = following - timedelta(days=1)
    return render_template(
        "famille/reservations_mois.html",
        weeks=family_days(db(), _context(), family_reader().foyer_id, first, last),
        first=first,
        previous=(first - timedelta(days=1)).replace(day=1),
        following=following,
    )


@bp.post("/reservations")
@role_required(Role.FAMILLE)
def reservations_modifier() -> tuple[str, int] | BaseResponse:
    monday = _monday(request.form.get("semaine"))
    action = request.form.get("action", "")
    reader = family_reader()
    channel = Channel.GUICHET if acted_foyer_id() is not None else Channel.FAMILLE
    booker = Booker(reader.account_id, channel, reader.foyer_id)
    try:
        if action not in ACTIONS:
            raise BookingNotFound(_("This change is not one the page offers."))
        if action == "semaines":
            return _pattern(booker, monday)
        if action == "reserver":
            booking = bookings.book(db(), _context(), booker, _number("enfant"), _number("seance"))
            done = (
                _("The day is booked.")
                if booking.state.value == "reservee"
                else _("The session is full: your child is on the waiting list.")
            )
        elif action == "annuler":
            booking = bookings.cancel(db(), _context(), booker, _number("reservation"))
            done = _("The booking is cancelled.")
        else:
            booking = bookings.accept_offer(db(), _context(), booker, _number("reservation"))
            done = _("The place is yours: the day is booked.")
    except BookingNotFound as error:
        return _page(monday, error.message, 404)
    except BookingError as error:
        return _page(monday, error.message, 409)
    flash(done, "success")
    # Back to the day just changed, not to the top of a long page.
    day = f"jour-{booking.member_id}-{booking.session_id}"
    target = url_for("famille.reservations", semaine=monday.isoformat(), _anchor=day)
    return redirect(target, code=303)


def _number(field: str) -> int:
    value = request.form.get(field, "")
    if not (value.isascii() and value.isdigit() and len(value) <= 9):
        raise BookingNotFound(_("This change is not one the page offers."))
    return int(value)


def _pattern(booker: Booker, monday: date) -> BaseResponse:
    """Book the weekdays ticked, every week until the day given."""
    days = request.form.getlist("jours")
    if not all(day in "0123456" and len(day) == 1 for day in days):
        raise BookingNotFound(_("This change is not one the page offers."))
    try:
        until = date.fromisoformat(request.form.get("jusqu_au", ""))
    except ValueError:
        raise BookingRefused(_("Give the last day to book, as a date.")) from None
    result = bookings.book_pattern(
        db(),
        _context(),
        booker,
        _number("enfant"),
        _number("activite"),
        frozenset(int(day) for day in days),
        until,
    )
    flash(
        ngettext("%(num)d day booked.", "%(num)d days booked.", len(result.booked)),
        "success",
    )
    if result.waiting:
        flash(
            ngettext(
                "%(num)d day full: your child is on its waiting list.",
                "%(num)d days full: your child is on their waiting lists.",
                len(result.waiting),
            ),
            "info",
        )
    for reason in result.refused.values():
        flash(reason, "warning")
    return redirect(url_for("famille.reservations", semaine=monday.isoformat()), code=303)


@bp.post("/reservations/absence")
@role_required(Role.FAMILLE)
def reservations_absence() -> tuple[str, int] | BaseResponse:
    """Start justifying an absence on a booked day past its cut-off: the request's form opens
    with the child and the day filled in; the parent adds the medical certificate."""
    monday = _monday(request.form.get("semaine"))
    reader = family_reader()
    assert reader.account_id is not None
    try:
        day = date.fromisoformat(request.form.get("jour", ""))
        child = _number("enfant")
    except (ValueError, BookingNotFound):
        return _page(monday, _("This change is not one the page offers."), 404)
    member = db().get(FoyerMember, child)
    ours = member is not None and (member.foyer_id, member.role) == (reader.foyer_id, CHILD)
    if not ours or not FIRST_YEAR <= day.year <= LAST_YEAR:
        return _page(monday, _("This change is not one the page offers."), 404)
    actor = FamilyActor(reader.account_id, reader.foyer_id)
    answers = {"enfant": child, "date_debut": day.isoformat(), "date_fin": day.isoformat()}
    draft = demandes.draft_with(db(), runtime().engine_context, actor, ABSENCE, answers)
    return redirect(url_for("famille.demande_formulaire", demande_id=draft.id), code=303)
