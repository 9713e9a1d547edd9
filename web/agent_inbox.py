"""Agent pages: the task inbox (being built)."""

from __future__ import annotations

from flask import render_template

from procedures.models import Role
from web.agent import bp
from web.auth import role_required


@bp.get("/taches")
@role_required(Role.AGENT)
def inbox() -> str:
    return render_template("agent/index.html")
