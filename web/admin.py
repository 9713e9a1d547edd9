"""Administration: the blueprint its pages register on, its home page and its errors' pages."""

from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask_babel import gettext as _
from flask_login import current_user

from accounts import agents as admin_agents
from accounts import organisation
from accounts.agents import InvalidAgentState
from accounts.models import Role
from accounts.organisation import (
    InvalidValue,
    NotAnAdministrator,
    NotFound,
    OutsideScope,
    administrator,
)
from web.auth import role_required
from web.errors import render_error
from web.runtime import db

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


@bp.get("/")
@role_required(Role.ADMIN)
def index() -> str:
    session = db()
    return render_template(
        "admin/index.html",
        is_global=administrator(session, current_user.id).is_global,
        entities=organisation.entities(session, current_user.id),
        agents=admin_agents.agents(session, current_user.id),
    )


# The administration's pages, one module per concept, register their routes on `bp` when imported.
import web.admin_agents  # noqa: E402
import web.admin_document_types  # noqa: E402
import web.admin_journal  # noqa: E402
import web.admin_organisation  # noqa: E402
import web.admin_procedures  # noqa: E402, F401
