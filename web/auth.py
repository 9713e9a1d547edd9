"""Login and logout for the three roles, and the guard every protected view uses."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_time
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from accounts.credentials import InvalidCredentials, sign_out
from accounts.models import Account, Role
from accounts.second_factor import requires_second_factor
from accounts.throttle import LoginBlocked
from web.agent_guichet_session import acting_for_family
from web.auth_throttle import client_address, login_throttle
from web.extensions import login_manager
from web.runtime import db, runtime

bp = Blueprint("auth", __name__)
P = ParamSpec("P")
R = TypeVar("R")

HOME_BY_ROLE = {Role.FAMILLE: "famille.index", Role.AGENT: "agent.inbox", Role.ADMIN: "admin.index"}


@dataclass(frozen=True)
class CurrentUser:
    """The logged-in account as views see it (no ORM object outlives its request)."""

    id: int
    role: Role
    display_name: str
    foyer_id: int | None
    session_version: int
    is_active: bool = True
    is_authenticated: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        # What the session (and a remember cookie) keeps: the version makes it revocable.
        return f"{self.id}:{self.session_version}"


def _as_user(account: Account) -> CurrentUser:
    return CurrentUser(
        account.id, account.role, account.display_name, account.foyer_id, account.session_version
    )


@login_manager.user_loader
def _load_user(user_id: str) -> CurrentUser | None:
    # A session opened under an older version was ended (logout, new password, second
    # factor reset, deactivation: procedures.accounts.end_sessions), whatever its cookie says.
    account_id, separator, version = user_id.partition(":")
    if not (account_id.isdigit() and separator and version.isdigit()):
        return None
    account = db().get(Account, int(account_id))
    if account is None or not account.is_active or account.session_version != int(version):
        return None
    return _as_user(account)


def reissue_session(account: Account) -> None:
    """Keep this device logged in under the account's new session version."""
    login_user(_as_user(account))


login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please sign in to access this page.")
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


@bp.route("/connexion", methods=["GET", "POST"])
def login() -> str | BaseResponse | tuple[str, int] | tuple[str, int, dict[str, str]]:
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template(
            "auth/login.html", form=form
        ), 400 if request.method == "POST" else 200
    try:
        account = login_throttle().authenticate(
            db(), form.email.data, form.password.data, client_address()
        )
    except LoginBlocked as blocked:
        return _blocked_page(form, blocked)
    except InvalidCredentials:
        form.password.errors.append(_("Incorrect e-mail address or password."))
        return render_template("auth/login.html", form=form), 401
    if requires_second_factor(account.role):
        return web.auth_totp.begin_second_factor(account, _next_url())
    login_user(_as_user(account))
    return redirect(_next_url() or url_for(HOME_BY_ROLE[account.role]))


def _blocked_page(form: LoginForm, blocked: LoginBlocked) -> tuple[str, int, dict[str, str]]:
    wait = max(1, math.ceil((blocked.until - runtime().clock.now()).total_seconds()))
    page = render_template(
        "auth/login.html", form=form, blocked_until=format_time(blocked.until, "HH:mm")
    )
    return page, 429, {"Retry-After": str(wait)}


@bp.post("/deconnexion")
def logout() -> BaseResponse:
    # Every session of the account ends, on every device: a copied cookie dies with them.
    if current_user.is_authenticated:
        sign_out(db(), current_user.id)
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("public.home"))


def _next_url() -> str | None:
    """Follow ?next= only to a path of this site."""
    target = request.args.get("next", "")
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc:
        return None
    return target


def role_required(*roles: Role) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """Let through only logged-in accounts of these roles; others get login or 403."""

    def decorator(view: Callable[P, R]) -> Callable[P, R | Response]:
        @wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            if not current_user.is_authenticated:
                unauthorized: Response = login_manager.unauthorized()
                return unauthorized
            # An agent in counter mode passes where the family would (web.agent_guichet).
            counter_mode = Role.FAMILLE in roles and acting_for_family()
            if current_user.role not in roles and not counter_mode:
                abort(403)
            # A family account in no foyer waits for its foyer's adults to accept it
            # (accounts.joining): it sees its waiting page and nothing else.
            waiting = current_user.role is Role.FAMILLE and current_user.foyer_id is None
            if waiting and request.endpoint != "famille.index":
                abort(403)
            return view(*args, **kwargs)

        return guarded

    return decorator


# The account pages register their routes on `bp` when imported (sign-up, reset...).
import web.auth_compte  # noqa: E402

# Back-office logins: the second factor's pages and the idle expiry (login() calls the former).
import web.auth_inactivite  # noqa: E402
import web.auth_totp  # noqa: E402
