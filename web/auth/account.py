"""Getting an account: sign-up, activation (link or family code), password reset, invitation.

Thin views over accounts.activation; each page that takes an e-mail address answers the
same whether the address has an account or not.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import EmailField, Field, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from accounts import activation
from accounts.credentials import (
    MIN_PASSWORD_LENGTH,
    EmailTaken,
    InvalidCredentials,
    PasswordContainsEmail,
    WeakPassword,
    change_password,
)
from accounts.information import UnknownVersion
from accounts.models import Role
from web.auth import acceptance, link_tokens
from web.auth.acceptance import InformationForm
from web.auth.blueprint import bp
from web.auth.guard import reissue_session, role_required
from web.auth.throttle import login_throttle
from web.extensions import limiter
from web.links import absolute_url, token_link
from web.runtime import db, runtime

Page = str | BaseResponse | tuple[str, int]
# What each e-mailed link's token is kept for in the session (web.auth.link_tokens).
ACTIVATION, RESET, INVITATION = "activation", "reinitialisation", "invitation_foyer"


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


def _password_error(field: Field, error: WeakPassword) -> None:
    if isinstance(error, PasswordContainsEmail):
        field.errors.append(_("The password must not contain your e-mail address."))
    else:
        field.errors.append(
            _("The password must be at least %(n)d characters long.", n=MIN_PASSWORD_LENGTH)
        )


def _form_page(
    form: FlaskForm, title: str, submit: str, intro: str = "", status: int | None = None
) -> Page:
    if status is None:
        status = 400 if request.method == "POST" else 200
    page = render_template(
        "auth/formulaire.html", form=form, title=title, submit=submit, intro=intro
    )
    return page, status


def _message_page(title: str, text: str, status: int = 200) -> tuple[str, int]:
    return render_template("auth/message.html", title=title, text=text), status


def _invalid_link() -> tuple[str, int]:
    return _message_page(
        _("This link is no longer valid"),
        _("The link is invalid, has expired or was already used. Please ask for a new one."),
        400,
    )


def _email_field() -> EmailField:
    return EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)])


def _new_password_field() -> PasswordField:
    return PasswordField(
        _l("Password (at least 12 characters)"), validators=[DataRequired(), Length(max=200)]
    )


def _confirm_field() -> PasswordField:
    return PasswordField(
        _l("Confirm the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


# --- sign-up and activation by e-mail -----------------------------------------------------


class SignUpForm(InformationForm):
    email = _email_field()
    name = StringField(_l("First and last name"), validators=[DataRequired(), Length(max=200)])
    password = _new_password_field()
    confirm = _confirm_field()


@bp.route("/inscription", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def inscription() -> Page:
    form = SignUpForm()
    title = _("Create my account")
    if not form.validate_on_submit():
        return acceptance.form_page(form, title, title)
    try:
        activation.sign_up(
            db(),
            runtime().clock,
            secret=_secret(),
            link=token_link("auth.activer"),
            email=form.email.data,
            name=form.name.data,
            password=form.password.data,
            information_version=form.information_version.data,
        )
    except WeakPassword as error:
        _password_error(form.password, error)
        return acceptance.form_page(form, title, title)
    except UnknownVersion:
        return acceptance.outdated(form, title, title)
    return _message_page(
        _("Check your mailbox"),
        _(
            "If this address can be used, an e-mail has been sent to it with a link to "
            "activate your account within 48 hours."
        ),
    )


class ConfirmForm(FlaskForm):
    """No field: the CSRF token only, so that a confirmation is a deliberate POST."""


@bp.get("/activation/<token>")
def activer(token: str) -> Page:
    # The token leaves the address at once (web.auth.link_tokens). Mail scanners open every link
    # of an e-mail: the GETs only check the link and ask for a click, the POST activates.
    try:
        activation.check_activation(db(), runtime().clock, secret=_secret(), token=token)
    except activation.InvalidToken:
        return _invalid_link()
    return link_tokens.exchange(ACTIVATION, token, "auth.activer_confirmer")


@bp.route("/activation/confirmer", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def activer_confirmer() -> Page:
    session, clock, token = db(), runtime().clock, link_tokens.kept(ACTIVATION)
    try:
        activation.check_activation(session, clock, secret=_secret(), token=token)
    except activation.InvalidToken:
        return _invalid_link()
    form = ConfirmForm()
    if request.method == "GET":
        return render_template("auth/activer.html", form=form)
    if not form.validate_on_submit():
        return _invalid_link()
    try:
        activation.activate(session, clock, secret=_secret(), token=token)
    except activation.InvalidToken:
        return _invalid_link()
    link_tokens.spend(ACTIVATION)
    flash(_("Your account is active. You can sign in."), "success")
    return redirect(url_for("auth.login"))


# --- activation with a family code --------------------------------------------------------


class FamilyCodeForm(InformationForm):
    family_code = StringField(_l("Family code"), validators=[DataRequired(), Length(max=40)])
    one_time_code = StringField(_l("One-time code"), validators=[DataRequired(), Length(max=40)])
    email = _email_field()
    password = _new_password_field()
    confirm = _confirm_field()


def _code_failed(response: BaseResponse) -> bool:
    return response.status_code != 302


@bp.route("/activation/code", methods=["GET", "POST"])
@limiter.limit("10 per 15 minutes", methods=["POST"], deduct_when=_code_failed)
def activer_code() -> Page:
    form = FamilyCodeForm()
    title, submit = _("Activate my account with a family code"), _("Activate my account")
    intro = _("Enter the family code and the one-time code given to you by the town hall.")
    if not form.validate_on_submit():
        return acceptance.form_page(form, title, submit, intro)
    try:
        account = activation.activate_with_code(
            db(),
            runtime().clock,
            family_code=form.family_code.data,
            one_time_code=form.one_time_code.data,
            email=form.email.data,
            password=form.password.data,
            link=absolute_url("famille.index"),
            information_version=form.information_version.data,
        )
    except WeakPassword as error:
        _password_error(form.password, error)
        return acceptance.form_page(form, title, submit, intro)
    except UnknownVersion:
        return acceptance.outdated(form, title, submit, intro)
    except activation.InvalidFamilyCode:
        form.one_time_code.errors.append(_("The family code or the one-time code is incorrect."))
        return acceptance.form_page(form, title, submit, intro)
    except EmailTaken:
        form.email.errors.append(_("This address cannot be used. Sign in or choose another."))
        return acceptance.form_page(form, title, submit, intro)
    if account.foyer_id is None:  # the foyer has accounts: its adults confirm first
        flash(
            _(
                "Your account is created. An adult of the household must now accept it: "
                "they have been told by e-mail."
            ),
            "info",
        )
    else:
        flash(_("Your account is active. You can sign in."), "success")
    return redirect(url_for("auth.login"))


# --- forgotten and changed passwords ------------------------------------------------------


class ForgottenForm(FlaskForm):
    email = _email_field()


@bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def mot_de_passe_oublie() -> Page:
    form = ForgottenForm()
    title, submit = _("Forgotten password"), _("Send me a link")
    if not form.validate_on_submit():
        return _form_page(form, title, submit)
    activation.request_password_reset(
        db(),
        runtime().clock,
        secret=_secret(),
        link=token_link("auth.nouveau_mot_de_passe"),
        email=form.email.data,
    )
    return _message_page(
        _("Check your mailbox"),
        _(
            "If an account uses this address, an e-mail has been sent to it with a link to "
            "choose a new password within 2 hours."
        ),
    )


class NewPasswordForm(FlaskForm):
    password = _new_password_field()
    confirm = _confirm_field()


@bp.get("/mot-de-passe/<token>")
def nouveau_mot_de_passe(token: str) -> Page:
    try:
        activation.check_reset_token(db(), runtime().clock, secret=_secret(), token=token)
    except activation.InvalidToken:
        return _invalid_link()
    return link_tokens.exchange(RESET, token, "auth.choisir_mot_de_passe")


@bp.route("/mot-de-passe/nouveau", methods=["GET", "POST"])
def choisir_mot_de_passe() -> Page:
    session, clock, token = db(), runtime().clock, link_tokens.kept(RESET)
    try:
        activation.check_reset_token(session, clock, secret=_secret(), token=token)
    except activation.InvalidToken:
        return _invalid_link()
    form = NewPasswordForm()
    title, submit = _("Choose a new password"), _("Save the password")
    if not form.validate_on_submit():
        return _form_page(form, title, submit)
    try:
        account = activation.reset_password(
            session, clock, secret=_secret(), token=token, password=form.password.data
        )
    except WeakPassword as error:
        _password_error(form.password, error)
        return _form_page(form, title, submit)
    except activation.InvalidToken:
        return _invalid_link()
    link_tokens.spend(RESET)
    login_throttle().forget_account(account.email)  # the way through a login block
    flash(_("Your password has been changed. You can sign in."), "success")
    return redirect(url_for("auth.login"))


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    password = _new_password_field()
    confirm = _confirm_field()


@bp.route("/famille/mot-de-passe", methods=["GET", "POST"])
@role_required(Role.FAMILLE)
def changer_mot_de_passe() -> Page:
    form = ChangePasswordForm()
    title, submit = _("Change my password"), _("Save the password")
    if not form.validate_on_submit():
        return _form_page(form, title, submit)
    try:
        account = change_password(
            db(), runtime().clock, current_user.id, form.current.data, form.password.data
        )
    except InvalidCredentials:
        form.current.errors.append(_("The current password is incorrect."))
        return _form_page(form, title, submit)
    except WeakPassword as error:
        _password_error(form.password, error)
        return _form_page(form, title, submit)
    reissue_session(account)  # the other devices' sessions ended, this one goes on
    flash(_("Your password has been changed."), "success")
    return redirect(url_for("famille.index"))


# --- inviting a second adult --------------------------------------------------------------


class InviteForm(FlaskForm):
    email = _email_field()


@bp.route("/famille/foyer/inviter", methods=["GET", "POST"])
@role_required(Role.FAMILLE)
@limiter.limit("20 per day", methods=["POST"])
def inviter() -> Page:
    form = InviteForm()
    title, submit = _("Invite another adult of the household"), _("Send the invitation")
    intro = _("The person will receive a link to create their own account in your household.")
    if not form.validate_on_submit():
        return _form_page(form, title, submit, intro)
    activation.invite_adult(
        db(),
        runtime().clock,
        secret=_secret(),
        link=token_link("auth.invitation"),
        account_id=current_user.id,
        email=form.email.data,
    )
    flash(_("The invitation has been sent."), "success")
    return redirect(url_for("famille.index"))


class InvitationForm(InformationForm):
    name = StringField(_l("First and last name"), validators=[DataRequired(), Length(max=200)])
    password = _new_password_field()
    confirm = _confirm_field()


@bp.get("/invitation/<token>")
def invitation(token: str) -> Page:
    try:
        activation.check_invitation(db(), runtime().clock, secret=_secret(), token=token)
    except activation.InvalidToken:
        return _invalid_link()
    return link_tokens.exchange(INVITATION, token, "auth.rejoindre_foyer")


@bp.route("/invitation/foyer", methods=["GET", "POST"])
def rejoindre_foyer() -> Page:
    session, clock, token = db(), runtime().clock, link_tokens.kept(INVITATION)
    try:
        email = activation.check_invitation(session, clock, secret=_secret(), token=token)
    except activation.InvalidToken:
        return _invalid_link()
    form = InvitationForm()
    title, submit = _("Join the household"), _("Create my account")
    intro = _("Your account will use the address %(email)s.", email=email)
    if not form.validate_on_submit():
        return acceptance.form_page(form, title, submit, intro)
    try:
        activation.accept_invitation(
            session,
            clock,
            secret=_secret(),
            token=token,
            name=form.name.data,
            password=form.password.data,
            information_version=form.information_version.data,
        )
    except WeakPassword as error:
        _password_error(form.password, error)
        return acceptance.form_page(form, title, submit, intro)
    except UnknownVersion:
        return acceptance.outdated(form, title, submit, intro)
    except activation.InvalidToken:
        return _invalid_link()
    link_tokens.spend(INVITATION)
    flash(_("Your account is active. You can sign in."), "success")
    return redirect(url_for("auth.login"))
