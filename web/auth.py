"""Login and logout for the three roles, and the guard every protected view uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from procedures.accounts import InvalidCredentials, authenticate, normalize_email
from procedures.models import Account, Role
from procedures.second_factor import requires_second_factor
from web.agent_guichet_session import acting_for_family
from web.extensions import limiter, login_manager
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
    is_active: bool = True
    is_authenticated: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        return str(self.id)


def _as_user(account: Account) -> CurrentUser:
    return CurrentUser(account.id, account.role, account.display_name, account.foyer_id)


@login_manager.user_loader
def _load_user(user_id: str) -> CurrentUser | None:
    account = db().get(Account, int(user_id)) if user_id.isdigit() else None
    if account is None or not account.is_active:
        return None
    return _as_user(account)


login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please sign in to access this page.")
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


def _login_failed(response: BaseResponse) -> bool:
    return response.status_code != 302


def _account_key() -> str:
    return "login:" + normalize_email(request.form.get("email", ""))[:254]


@bp.route("/connexion", methods=["GET", "POST"])
@limiter.limit("20 per 15 minutes", methods=["POST"], deduct_when=_login_failed)
@limiter.limit(
    "5 per 15 minutes", key_func=_account_key, methods=["POST"], deduct_when=_login_failed
)
def login() -> str | BaseResponse | tuple[str, int]:
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template(
            "auth/login.html", form=form
        ), 400 if request.method == "POST" else 200
    try:
        account = authenticate(db(), runtime().clock, form.email.data, form.password.data)
    except InvalidCredentials:
        form.password.errors.append(_("Incorrect e-mail address or password."))
        return render_template("auth/login.html", form=form), 401
    if requires_second_factor(account.role):
        return web.auth_totp.begin_second_factor(account, _next_url())
    login_user(_as_user(account))
    return redirect(_next_url() or url_for(HOME_BY_ROLE[account.role]))


@bp.post("/deconnexion")
def logout() -> BaseResponse:
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
            return view(*args, **kwargs)

        return guarded

    return decorator


# The account pages register their routes on `bp` when imported (sign-up, reset...).
import web.auth_compte  # noqa: E402

# Back-office logins: the second factor's pages and the idle expiry (login() calls the former).
import web.auth_inactivite  # noqa: E402
import web.auth_totp  # noqa: E402
