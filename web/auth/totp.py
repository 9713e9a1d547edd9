"""The second step of a back-office login: a code from the authenticator app.

After a correct password an agent or administrator is not logged in yet: the session only
remembers, for a few minutes, which account passed the password. The account then gives a
6-digit code (/connexion/second-facteur) or, the first time, adds the portal to its app and
confirms with a first code (/connexion/enrolement). Only then is it logged in.
"""

from __future__ import annotations

from datetime import timedelta

import segno
from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from accounts import second_factor
from accounts.models import Account
from web.auth.blueprint import bp
from web.auth.guard import HOME_BY_ROLE, _as_user
from web.auth.inactivity import mark_activity
from web.extensions import limiter
from web.runtime import db, runtime

PENDING_KEY = "second_factor_pending"
PENDING_LIFETIME = timedelta(minutes=5)
ACCOUNT_LIMIT = "5 per 15 minutes"
ADDRESS_LIMIT = "20 per 15 minutes"

Page = str | BaseResponse | tuple[str, int]


class CodeForm(FlaskForm):
    code = StringField(
        _l("6-digit code shown by your authenticator app"),
        validators=[DataRequired(), Length(min=6, max=7)],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
    )


def begin_second_factor(account: Account, next_url: str | None) -> BaseResponse:
    """Remember that this back-office account passed its password; ask for its code."""
    logout_user()
    expires = runtime().clock.now() + PENDING_LIFETIME
    session[PENDING_KEY] = {
        "account_id": account.id,
        "expires": int(expires.timestamp()),
        "next": next_url or "",
    }
    enrolled = second_factor.is_enrolled(account)
    return redirect(url_for("auth.second_facteur" if enrolled else "auth.enrolement"))


def _pending() -> dict[str, object] | None:
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    expires = pending.get("expires")
    if not isinstance(expires, int) or runtime().clock.now().timestamp() >= expires:
        session.pop(PENDING_KEY, None)
        return None
    return pending


def _pending_account_id() -> int | None:
    pending = _pending()
    account_id = pending.get("account_id") if pending else None
    return account_id if isinstance(account_id, int) else None


def _attempt_key() -> str:
    return f"second-factor:{_pending_account_id() or 'none'}"


def _code_refused(response: BaseResponse) -> bool:
    return response.status_code != 302


def _back_to_password() -> BaseResponse:
    session.pop(PENDING_KEY, None)
    flash(_("Your sign-in has expired. Please enter your password again."), "info")
    return redirect(url_for("auth.login"))


def _complete_login(account_id: int) -> BaseResponse:
    account = db().get(Account, account_id)
    pending = session.pop(PENDING_KEY, None) or {}
    if account is None or not account.is_active:
        return _back_to_password()
    login_user(_as_user(account))
    mark_activity()
    next_url = pending.get("next") if isinstance(pending, dict) else None
    return redirect(next_url or url_for(HOME_BY_ROLE[account.role]))


def _code_page(form: CodeForm, template: str, status: int, **context: object) -> tuple[str, int]:
    return render_template(f"auth/{template}", form=form, demo_code=_demo_code(), **context), status


def _demo_code() -> str | None:
    """In development only, the code of the moment: the demo's agents need no app."""
    account_id = _pending_account_id()
    if account_id is None or not runtime().settings.shows_demo_aids:
        return None
    rt = runtime()
    try:
        return second_factor.demo_code(db(), rt.clock, rt.keyring, account_id)
    except second_factor.SecondFactorError:  # the page itself says what is wrong
        return None


_account_limit = limiter.shared_limit(
    ACCOUNT_LIMIT,
    scope="second-factor-account",
    key_func=_attempt_key,
    methods=["POST"],
    deduct_when=_code_refused,
)
_address_limit = limiter.shared_limit(
    ADDRESS_LIMIT, scope="second-factor-address", methods=["POST"], deduct_when=_code_refused
)


@bp.route("/connexion/second-facteur", methods=["GET", "POST"])
@_address_limit
@_account_limit
def second_facteur() -> Page:
    account_id = _pending_account_id()
    if account_id is None:
        return _back_to_password()
    form = CodeForm()
    if not form.validate_on_submit():
        return _code_page(form, "second_facteur.html", 400 if request.method == "POST" else 200)
    try:
        second_factor.verify_code(
            db(), runtime().clock, runtime().keyring, account_id, form.code.data or ""
        )
    except second_factor.NotEnrolled:
        return redirect(url_for("auth.enrolement"))
    except second_factor.UnknownAccount:
        return _back_to_password()
    except second_factor.InvalidCode:
        form.code.errors.append(_("Incorrect or expired code."))
        return _code_page(form, "second_facteur.html", 401)
    return _complete_login(account_id)


@bp.route("/connexion/enrolement", methods=["GET", "POST"])
@_address_limit
@_account_limit
def enrolement() -> Page:
    account_id = _pending_account_id()
    if account_id is None:
        return _back_to_password()
    try:
        enrolment = second_factor.start_enrolment(db(), runtime().keyring, account_id)
    except second_factor.AlreadyEnrolled:
        return redirect(url_for("auth.second_facteur"))
    except second_factor.UnknownAccount:
        return _back_to_password()
    form = CodeForm()
    status = 400 if request.method == "POST" else 200
    if form.validate_on_submit():
        try:
            second_factor.confirm_enrolment(
                db(), runtime().clock, runtime().keyring, account_id, form.code.data or ""
            )
        except second_factor.InvalidCode:
            form.code.errors.append(_("Incorrect or expired code."))
            status = 401
        else:
            return _complete_login(account_id)
    # The page shows the secret: web.security's no-store keeps it out of every cache.
    return _code_page(
        form,
        "enrolement.html",
        status,
        secret=" ".join(enrolment.secret[i : i + 4] for i in range(0, len(enrolment.secret), 4)),
        uri=enrolment.uri,
        qr_code=segno.make(enrolment.uri, error="m").svg_data_uri(scale=5, border=2),
    )
