"""Administration of tariff grids: each activity's price per family-quotient band, and a new
grid from a day to come (the past keeps its prices). An entity's administrator sees its own
entity's activities; a global one, every entity's."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from accounts.organisation import administrator
from coffre.clock import local_today
from facturation import tariffs
from facturation.errors import BillingError
from facturation.models import BANDS, Unit
from facturation.money import MoneyError, parse_euros
from web.admin.blueprint import bp
from web.auth.guard import role_required
from web.runtime import db, runtime


def _grids() -> list[tariffs.GridView]:
    admin = administrator(db(), current_user.id)
    return tariffs.grids_of(db(), admin.entity_id, local_today(runtime().clock))


def _page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    page = render_template(
        "admin/tarifs.html", grids=_grids(), bands=BANDS, units=list(Unit), error=error,
        form=request.form if request.method == "POST" else {},
    )  # fmt: skip
    return page, status


@bp.get("/tarifs")
@role_required(Role.ADMIN)
def tarifs() -> tuple[str, int]:
    return _page()


@bp.post("/tarifs/<int:activity_id>")
@role_required(Role.ADMIN)
def tarif_nouveau(activity_id: int) -> tuple[str, int] | BaseResponse:
    """A new grid for an activity of the administrator's reach, from a day to come."""
    if activity_id not in {view.activity.id for view in _grids()}:
        abort(404)
    form = request.form
    try:
        unit = Unit(form.get("unite", ""))
        start = date.fromisoformat(form.get("du", ""))
        prices = {band: parse_euros(form.get(f"prix_{band}", "")) for band in BANDS}
    except MoneyError as error:
        return _page(str(error), 400)
    except ValueError:
        return _page(_("Give the unit and the first day of the new grid."), 400)
    try:
        tariffs.set_grid(db(), runtime().clock, current_user.id, activity_id, unit, prices, start)
    except BillingError as error:
        db().rollback()
        return _page(error.message, 400)
    db().commit()
    flash(_("The new grid applies from %(day)s.", day=start.strftime("%d/%m/%Y")), "success")
    return redirect(url_for("admin.tarifs"), code=303)
