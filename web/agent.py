"""The agents' back office (filled by the Espace agent issue)."""

from __future__ import annotations

from flask import Blueprint, render_template

from procedures.models import Role
from web.auth import role_required

bp = Blueprint("agent", __name__, url_prefix="/agent")


@bp.get("/")
@role_required(Role.AGENT)
def index() -> str:
    return render_template("agent/index.html")
