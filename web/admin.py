"""Administration (filled by the Administration issue)."""

from __future__ import annotations

from flask import Blueprint, render_template

from procedures.models import Role
from web.auth import role_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@role_required(Role.ADMIN)
def index() -> str:
    return render_template("admin/index.html")
