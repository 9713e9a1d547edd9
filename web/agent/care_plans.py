"""Agent pages: the care plans (PAI) shared with the agent's school team, and reading one.

A plan is listed and opened only while the vault's rule lets one of the agent's services
read it today (`coffre.sharing.teams`); every opening is logged for the family.
"""

from __future__ import annotations

from flask import Response, render_template

from accounts.models import Role
from coffre.clock import local_today
from procedures.vault import teams
from web.agent.blueprint import agent_actor, bp
from web.auth.guard import role_required
from web.files import FILE_POLICIES, attachment_headers, checked_chunks
from web.runtime import db, runtime


@bp.get("/pai")
@role_required(Role.AGENT)
def pai() -> str:
    plans = teams.team_plans(db(), agent_actor(), local_today(runtime().clock))
    return render_template("agent/pai.html", plans=plans)


@bp.get("/pai/<int:document_id>/contenu")
@role_required(Role.AGENT)
def pai_contenu(document_id: int) -> Response:
    opened = teams.read_team_plan(
        db(), runtime().vault, agent_actor(), document_id, local_today(runtime().clock)
    )
    document = opened.document
    headers = attachment_headers(document.original_name, "inline")
    headers["Content-Security-Policy"] = FILE_POLICIES["inline"]
    headers["Content-Length"] = str(document.size)
    return Response(checked_chunks(opened), mimetype=document.mime_type, headers=headers)
