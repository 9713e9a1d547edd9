"""The families' space (filled by the Espace famille issue)."""

from __future__ import annotations

from flask import Blueprint, render_template

from procedures.models import Role
from web.auth import role_required

bp = Blueprint("famille", __name__, url_prefix="/famille")


@bp.get("/")
@role_required(Role.FAMILLE)
def index() -> str:
    return render_template("famille/index.html")
