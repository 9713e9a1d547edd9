"""The administration's home page: the entities, their services and agents."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from accounts import agents as admin_agents
from accounts import organisation
from accounts.models import Role
from accounts.organisation import (
    administrator,
)
from web.admin.blueprint import bp
from web.auth.guard import role_required
from web.runtime import db, runtime


@bp.get("/")
@role_required(Role.ADMIN)
def index() -> str:
    session = db()
    return render_template(
        "admin/index.html",
        is_global=administrator(session, current_user.id).is_global,
        entities=organisation.entities(session, current_user.id),
        agents=admin_agents.agents(session, current_user.id),
        demo_emails=runtime().settings.shows_demo_aids,  # web.admin.outbox
    )
