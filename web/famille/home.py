"""The family space's home page: the foyer's summary, or the page of an account waiting to join."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from accounts.models import Role
from coffre.clock import local_today
from procedures.renewals import renewable
from web.auth.guard import role_required
from web.counter import acted_foyer_id
from web.famille.blueprint import bp, family_reader
from web.famille.join import pending
from web.runtime import db, runtime


@bp.get("/")
@role_required(Role.FAMILLE)
def index() -> str:
    if acted_foyer_id() is None and current_user.foyer_id is None:
        return render_template("famille/en_attente.html")  # web.famille.join
    # Last year's registrations the family may renew now: offered here, where it lands, and
    # renewed from the procedures page.
    renewals = renewable(db(), family_reader().foyer_id, local_today(runtime().clock))
    return render_template("famille/index.html", joins=pending(), renewals=renewals)
