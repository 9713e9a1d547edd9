"""Login and logout for the three roles."""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import format_time
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from accounts.credentials import InvalidCredentials, sign_out
from accounts.second_factor import requires_second_factor
from accounts.throttle import LoginBlocked
from web.auth import franceconnect, totp
from web.auth.blueprint import bp
from web.auth.guard import HOME_BY_ROLE, _as_user
from web.auth.throttle import client_address, login_throttle
from web.runtime import db, runtime


class LoginForm(FlaskForm):
    # An e-mail address, or the family code printed on the family's papers (Vincennes).
    email = StringField(
        _l("E-mail address or family code"), validators=[DataRequired(), Length(max=254)]
    )
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
        return totp.begin_second_factor(account, _next_url())
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
    # Signed in through FranceConnect, its session ends too: off to its end-session page.
    provider_logout = franceconnect.end_session_url()
    if current_user.is_authenticated:
        sign_out(db(), current_user.id)
    logout_user()
    session.pop(franceconnect.ID_TOKEN_KEY, None)
    flash(_("You are signed out."), "info")
    return redirect(provider_logout or url_for("public.home"))


def _next_url() -> str | None:
    """Follow ?next= only to a path of this site."""
    target = request.args.get("next", "")
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc:
        return None
    return target
