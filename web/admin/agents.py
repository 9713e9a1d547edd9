"""Administration of agents: invitation, services and supervision, second factor, status.

Also the invited agent's page, reached from the e-mail without being signed in, where it
chooses its password.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import EmailField, StringField
from wtforms.validators import DataRequired, Length

from accounts import agents as admin_agents
from accounts import organisation
from accounts.activation import InvalidToken
from accounts.agents import Invitation
from accounts.credentials import MIN_PASSWORD_LENGTH, PasswordContainsEmail, WeakPassword
from accounts.models import Role
from accounts.organisation import InvalidValue
from web.admin.blueprint import bp, invalid_message
from web.auth import link_tokens
from web.auth.account import NewPasswordForm
from web.auth.guard import role_required
from web.extensions import limiter
from web.links import token_link
from web.runtime import db, runtime

Page = str | BaseResponse | tuple[str, int]
ROLES = ("agent", "supervisor")
INVITATION = "invitation_agent"  # what the e-mailed link's token is kept for (web.auth.link_tokens)
_LINK = token_link("admin.invitation")


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


def _memberships(form: Mapping[str, str]) -> dict[int, bool]:
    """The services chosen on a page: `service-<id>` = "agent" or "supervisor"."""
    chosen: dict[int, bool] = {}
    for key, value in form.items():
        number = key.removeprefix("service-")
        if key.startswith("service-") and number.isdigit() and value in ROLES:
            chosen[int(number)] = value == "supervisor"
    return chosen


class InviteForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)])
    display_name = StringField(
        _l("First and last name"), validators=[DataRequired(), Length(max=200)]
    )


def _invite_page(form: InviteForm, chosen: Mapping[int, bool], error: str = "") -> Page:
    page = render_template(
        "admin/agent_inviter.html",
        form=form,
        entities=organisation.entities(db(), current_user.id),
        chosen=chosen,
        services_error=error,
    )
    return page, 400 if request.method == "POST" else 200


@bp.route("/agents/inviter", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def agent_invite() -> Page:
    form = InviteForm()
    chosen = _memberships(request.form)
    if not form.validate_on_submit():
        return _invite_page(form, chosen)
    invitation = Invitation(
        email=form.email.data, display_name=form.display_name.data, memberships=chosen
    )
    try:
        agent_id = admin_agents.invite_agent(
            db(), runtime().clock, current_user.id, invitation, secret=_secret(), link=_LINK
        )
    except InvalidValue as error:
        if error.field == "services":
            return _invite_page(form, chosen, invalid_message(error))
        field = form.email if error.field == "email" else form.display_name
        field.errors = [*field.errors, invalid_message(error)]
        return _invite_page(form, chosen)
    return _back_to_agent(agent_id, _("The invitation has been sent."))


def _back_to_agent(agent_id: int, message: str, category: str = "success") -> BaseResponse:
    """After a change: the message, and the agent's page again."""
    flash(message, category)
    return redirect(url_for("admin.agent", agent_id=agent_id))


def _agent_page(agent_id: int, services_error: str = "", status: int = 200) -> tuple[str, int]:
    session = db()
    page = render_template(
        "admin/agent.html",
        agent=admin_agents.agent(session, current_user.id, agent_id),
        entities=organisation.entities(session, current_user.id),
        services_error=services_error,
    )
    return page, status


@bp.get("/agents/<int:agent_id>")
@role_required(Role.ADMIN)
def agent(agent_id: int) -> Page:
    return _agent_page(agent_id)


@bp.post("/agents/<int:agent_id>/services")
@role_required(Role.ADMIN)
def agent_services(agent_id: int) -> Page:
    try:
        admin_agents.set_agent_services(
            db(), runtime().clock, current_user.id, agent_id, _memberships(request.form)
        )
    except InvalidValue as error:
        return _agent_page(agent_id, invalid_message(error), 400)
    return _back_to_agent(agent_id, _("The agent's services have been saved."))


@bp.post("/agents/<int:agent_id>/second-facteur")
@role_required(Role.ADMIN)
def agent_reset_second_factor(agent_id: int) -> BaseResponse:
    admin_agents.reset_agent_second_factor(db(), runtime().clock, current_user.id, agent_id)
    message = _("The second factor has been reset: the agent will enrol again at its next login.")
    return _back_to_agent(agent_id, message, category="message")


@bp.post("/agents/<int:agent_id>/desactiver")
@role_required(Role.ADMIN)
def agent_deactivate(agent_id: int) -> BaseResponse:
    admin_agents.set_agent_active(db(), runtime().clock, current_user.id, agent_id, active=False)
    return _back_to_agent(agent_id, _("The agent has been deactivated: it can no longer sign in."))


@bp.post("/agents/<int:agent_id>/reactiver")
@role_required(Role.ADMIN)
def agent_reactivate(agent_id: int) -> BaseResponse:
    admin_agents.set_agent_active(db(), runtime().clock, current_user.id, agent_id, active=True)
    return _back_to_agent(agent_id, _("The agent has been reactivated."))


@bp.post("/agents/<int:agent_id>/invitation/renvoyer")
@role_required(Role.ADMIN)
def agent_resend_invitation(agent_id: int) -> BaseResponse:
    admin_agents.resend_invitation(
        db(), runtime().clock, current_user.id, agent_id, secret=_secret(), link=_LINK
    )
    message = _("A new invitation has been sent; the previous link no longer works.")
    return _back_to_agent(agent_id, message)


@bp.post("/agents/<int:agent_id>/invitation/annuler")
@role_required(Role.ADMIN)
def agent_cancel_invitation(agent_id: int) -> BaseResponse:
    admin_agents.cancel_invitation(db(), runtime().clock, current_user.id, agent_id)
    flash(_("The invitation has been cancelled."), "success")
    return redirect(url_for("admin.index"))


# --- the invited agent's page -------------------------------------------------------------


def _invalid_link() -> tuple[str, int]:
    title = _("This link is no longer valid")
    text = _("The link is invalid, has expired or was already used. Ask your administrator.")
    return render_template("auth/message.html", title=title, text=text), 400


def _password_page(form: NewPasswordForm, email: str) -> tuple[str, int]:
    page = render_template(
        "auth/formulaire.html",
        form=form,
        title=_("Choose your password"),
        submit=_("Save the password"),
        intro=_("Your agent account uses the address %(email)s.", email=email),
    )
    return page, 400 if request.method == "POST" else 200


@bp.get("/invitation/<token>")
def invitation(token: str) -> Page:
    # The token leaves the address at once (web.auth.link_tokens). Mail scanners open links:
    # the GETs only check the link, the POST consumes it.
    try:
        admin_agents.check_invitation(db(), runtime().clock, secret=_secret(), token=token)
    except InvalidToken:
        return _invalid_link()
    return link_tokens.exchange(INVITATION, token, "admin.invitation_mot_de_passe")


@bp.route("/invitation/mot-de-passe", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def invitation_mot_de_passe() -> Page:
    session, clock, token = db(), runtime().clock, link_tokens.kept(INVITATION)
    try:
        invited = admin_agents.check_invitation(session, clock, secret=_secret(), token=token)
    except InvalidToken:
        return _invalid_link()
    form = NewPasswordForm()
    if not form.validate_on_submit():
        return _password_page(form, invited.email)
    try:
        admin_agents.accept_invitation(
            session, clock, secret=_secret(), token=token, password=form.password.data
        )
    except WeakPassword as error:
        form.password.errors = [*form.password.errors, _weak_password(error)]
        return _password_page(form, invited.email)
    link_tokens.spend(INVITATION)
    flash(
        _(
            "Your password is saved. Sign in: you will then add the portal to your "
            "authenticator app."
        ),
        "success",
    )
    return redirect(url_for("auth.login"))


def _weak_password(error: WeakPassword) -> str:
    if isinstance(error, PasswordContainsEmail):
        return _("The password must not contain your e-mail address.")
    return _("The password must be at least %(n)d characters long.", n=MIN_PASSWORD_LENGTH)
