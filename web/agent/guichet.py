"""Counter mode (guichet): find a family, act on its behalf through its own pages, on record.

The agent searches (name, child's name, family code) among the foyers its entities deal
with, confirms the family is there and agrees, and opens counter mode: the foyer's id goes
into the agent's session (web.counter) and the family pages let the agent in,
with a banner on every page. Opening is e-mailed to the foyer's adults; a foyer the agent
may not open answers 404 (guichet.rights). Each successful change made there is
an act: journaled under the agent and e-mailed to the family (guichet.acts).
Leaving counter mode, or logging out, ends it. Only agents of a service that runs the
counter create households and print family codes.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, user_logged_out
from flask_wtf import FlaskForm
from sqlalchemy.exc import DBAPIError
from werkzeug.wrappers import Response as BaseResponse
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

from accounts.activation import FAMILY_CODE_VALIDITY
from accounts.family import family_accounts
from accounts.household import FoyerNotFound
from accounts.models import Role
from coffre.models import Foyer
from guichet import acts, sessions
from guichet.rights import CounterNotAllowed, check_may_issue_codes, check_may_open, counter_agent
from web.agent.blueprint import bp
from web.auth.guard import role_required
from web.counter import counter_of, current_counter, forget, remember
from web.links import absolute_url
from web.runtime import db, runtime

Page = str | tuple[str, int] | BaseResponse
_NAME = Length(max=120)


class OpenForm(FlaskForm):
    informed = BooleanField(
        _l("The family is at the counter and agrees that I act on its behalf"),
        validators=[DataRequired(_l("Confirm that the family agrees before opening its space."))],
    )


class NewFoyerForm(FlaskForm):
    first_name = StringField(_l("Parent's first name"), validators=[DataRequired(), _NAME])
    last_name = StringField(_l("Parent's last name"), validators=[DataRequired(), _NAME])
    informed = OpenForm.informed


def _search_page(form: OpenForm, status: int = 200) -> tuple[str, int]:
    text = request.values.get("q", "").strip()[:200]
    try:
        agent = counter_agent(db(), current_user.id)
        matches = sessions.search_foyers(db(), current_user.id, text) if text else []
    except CounterNotAllowed:
        abort(403)
    page = render_template(
        "agent/guichet.html",
        text=text,
        matches=matches,
        form=form,
        limit=sessions.SEARCH_LIMIT,
        issues_codes=agent.runs_counter,
    )
    return page, status


@bp.get("/guichet")
@role_required(Role.AGENT)
def guichet_recherche() -> Page:
    return _search_page(OpenForm())


@bp.post("/guichet/<int:foyer_id>/ouvrir")
@role_required(Role.AGENT)
def guichet_ouvrir(foyer_id: int) -> Page:
    _check_may_open(foyer_id)
    form = OpenForm()
    if not form.validate_on_submit():
        return _search_page(form, 400)
    _close_current()
    try:
        counter = sessions.open_counter(
            db(), runtime().clock, current_user.id, foyer_id, link=absolute_url("famille.index")
        )
    except CounterNotAllowed:
        abort(403)
    except FoyerNotFound:
        abort(404)
    remember(counter)
    return redirect(url_for("famille.index"), 303)


def _check_may_open(foyer_id: int) -> None:
    """404 for a foyer out of the agent's reach, before anything else: it does not exist."""
    try:
        check_may_open(db(), counter_agent(db(), current_user.id), foyer_id)
    except CounterNotAllowed:
        abort(403)
    except FoyerNotFound:
        abort(404)


@bp.post("/guichet/quitter")
@role_required(Role.AGENT)
def guichet_quitter() -> BaseResponse:
    if _close_current():
        flash(_("You have left counter mode."), "info")
    return redirect(url_for("agent.guichet_recherche"), 303)


def _close_current(counter: sessions.CounterSession | None = None) -> bool:
    counter = counter or current_counter()
    forget()
    if counter is None:
        return False
    sessions.close_counter(db(), runtime().clock, counter)
    return True


@bp.route("/guichet/nouveau-foyer", methods=["GET", "POST"])
@role_required(Role.AGENT)
def guichet_nouveau_foyer() -> Page:
    try:
        check_may_issue_codes(counter_agent(db(), current_user.id))
    except CounterNotAllowed:
        abort(403)
    form = NewFoyerForm()
    if not form.validate_on_submit():
        page = render_template("agent/guichet_nouveau_foyer.html", form=form)
        return page, 400 if request.method == "POST" else 200
    try:
        created = sessions.create_foyer(
            db(),
            runtime().clock,
            current_user.id,
            first_name=form.first_name.data,
            last_name=form.last_name.data,
        )
    except CounterNotAllowed:
        abort(403)
    return _codes_page(created, new=True)


@bp.post("/guichet/<int:foyer_id>/code-famille")
@role_required(Role.AGENT)
def guichet_code_famille(foyer_id: int) -> Page:
    # A code is given to a parent standing at the counter, like opening the space: the same
    # confirmation, never a code printed for a family that is not there.
    _check_may_open(foyer_id)
    form = OpenForm()
    if not form.validate_on_submit():
        return _search_page(form, 400)
    try:
        issued = sessions.new_family_code(
            db(), runtime().clock, current_user.id, foyer_id, link=absolute_url("famille.index")
        )
    except FoyerNotFound:  # checked first: a foyer the agent may not open does not exist
        abort(404)
    except CounterNotAllowed:
        abort(403)
    return _codes_page(issued, new=False)


def _codes_page(issued: sessions.NewFoyer, new: bool) -> BaseResponse:
    """The codes, shown once to be printed for the parent: never cached."""
    foyer = db().get(Foyer, issued.foyer_id)
    page = render_template(
        "agent/guichet_codes.html",
        issued=issued,
        label=foyer.label if foyer else "",
        new=new,
        valid_days=FAMILY_CODE_VALIDITY.days,
        activation_url=absolute_url("auth.activer_code"),
        needs_confirmation=bool(family_accounts(db(), issued.foyer_id)),
        form=OpenForm(formdata=None),
    )
    return Response(page, 201 if new else 200)  # no cache keeps the codes: web.security


# --- every act done in counter mode, and the end of counter mode at logout ------------------


@bp.after_app_request
def _record_counter_act(response: Response) -> Response:
    """A change made on a family page in counter mode is an act: journal it, tell the family."""
    endpoint = request.endpoint or ""
    changed = request.method == "POST" and response.status_code < 400
    if not changed or not endpoint.startswith("famille."):
        return response
    counter = current_counter()
    if counter is None:
        return response
    link = absolute_url("famille.index")
    counter = acts.record_act(
        db(),
        runtime().clock,
        counter,
        page=endpoint,
        link=link,
        household=endpoint.startswith("famille.foyer"),
    )
    remember(counter)
    return response


@bp.app_context_processor
def _counter_banner() -> dict[str, Any]:
    """The foyer named by the banner every page shows in counter mode."""
    counter = current_counter()
    if counter is None:
        return {"guichet_foyer": None}
    try:
        foyer = db().get(Foyer, counter.foyer_id)
    except DBAPIError:  # drawing the error page of a database outage: no label, no second error
        return {"guichet_foyer": ""}
    return {"guichet_foyer": foyer.label if foyer is not None else ""}


@user_logged_out.connect
def _close_at_logout(_app: Flask, user: Any = None, **_extra: Any) -> None:
    """Logging out (or an idle session expiring) ends counter mode, on record."""
    # current_user is already anonymous here: the session is read for the account logged out.
    if user is None or getattr(user, "role", None) is not Role.AGENT:
        return
    _close_current(counter_of(user.id))
