"""The family space's home page: the foyer's summary, or the page of an account waiting to join."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from accounts.models import Role
from web.auth.guard import role_required
from web.counter import acted_foyer_id
from web.famille.blueprint import bp
from web.famille.join import pending


@bp.get("/")
@role_required(Role.FAMILLE)
def index() -> str:
    if acted_foyer_id() is None and current_user.foyer_id is None:
        return render_template("famille/en_attente.html")  # web.famille.join
    return render_template("famille/index.html", joins=pending())
