"""The administration's blueprint, how its errors answer, and the wording of invalid values."""

from __future__ import annotations

from flask import Blueprint, Response
from flask_babel import gettext as _

from accounts.agents import InvalidAgentState
from accounts.organisation import (
    InvalidValue,
    NotAnAdministrator,
    NotFound,
    OutsideScope,
)
from web.errors import render_error

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound) -> tuple[Response | str, int]:
    return render_error(404)


@bp.errorhandler(NotAnAdministrator)
@bp.errorhandler(OutsideScope)
def _forbidden(exc: Exception) -> tuple[Response | str, int]:
    return render_error(403)


@bp.errorhandler(InvalidAgentState)
def _conflict(exc: InvalidAgentState) -> tuple[Response | str, int]:
    return render_error(409, _("This action does not fit the agent's current status."))


def invalid_message(error: InvalidValue) -> str:
    """The French message for a refused value, shown beside its field."""
    messages = {
        "blank": _("This field is required."),
        "too_long": _("This text is too long (%(n)d characters at most).", n=200),
        "format": _("Use 2 to 60 lowercase letters, digits, hyphens or underscores."),
        "taken": _("This identifier is already used."),
        "none": _("Choose at least one."),
        "range": _("Enter a number of months between 1 and 600."),
        "unknown": _("This value is not offered."),
    }
    if error.field == "email":
        messages["format"] = _("Enter a valid e-mail address, such as name@town.example.")
        messages["taken"] = _("An account already uses this address.")
    if error.field == "services":
        messages["none"] = _("Choose at least one service.")
    if error.field == "formats":
        messages["none"] = _("Choose at least one accepted format.")
    return messages.get(error.reason, _("This value cannot be accepted."))
