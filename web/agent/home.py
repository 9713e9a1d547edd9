"""The back office's home: straight to the inbox."""

from __future__ import annotations

from flask import redirect, url_for
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from web.agent.blueprint import bp
from web.auth.guard import role_required


@bp.get("/")
@role_required(Role.AGENT)
def index() -> BaseResponse:
    return redirect(url_for("agent.inbox"))
