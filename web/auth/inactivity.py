"""Back-office sessions end after AGENT_IDLE_MINUTES without a request.

Families keep the cookie's own idle expiry (SESSION_IDLE_MINUTES). A back-office session
records the time of its last request, read from the app's clock; the first request after
too long a pause logs the account out and sends it back to the login page.
"""

from __future__ import annotations

from flask import Response, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response as BaseResponse

from accounts.second_factor import requires_second_factor
from web.auth.blueprint import bp
from web.runtime import runtime

SEEN_KEY = "back_office_seen_at"


def mark_activity() -> None:
    """Record now as the back-office session's last activity."""
    session[SEEN_KEY] = int(runtime().clock.now().timestamp())


@bp.before_app_request
def _expire_idle_back_office_session() -> BaseResponse | None:
    if request.endpoint in (None, "static") or not current_user.is_authenticated:
        return None
    if not requires_second_factor(current_user.role):
        return None
    idle_seconds = runtime().settings.agent_idle_minutes * 60
    now = int(runtime().clock.now().timestamp())
    seen = session.get(SEEN_KEY)
    # A back-office session without a mark predates this rule (and the second factor): end it.
    if isinstance(seen, int) and now - seen <= idle_seconds:
        mark_activity()
        return None
    logout_user()
    session.pop(SEEN_KEY, None)
    flash(_("Your session has expired after a period of inactivity. Please sign in again."), "info")
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    login_url = url_for("auth.login", next=target)
    if request.headers.get("HX-Request"):
        # htmx follows a 302 silently and would swap the login page into a fragment.
        return Response(status=200, headers={"HX-Redirect": login_url})
    return redirect(login_url)
