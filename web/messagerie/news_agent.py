"""The composer of targeted news, for the agents who supervise a service: criteria, the
number of families reached before sending, the news sent and how far their e-mails went."""

from __future__ import annotations

from collections.abc import Mapping

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from messagerie import audience, news
from messagerie.audience import Criteria, InvalidCriteria, Reach
from web.auth.guard import role_required
from web.messagerie.news_blueprint import bp
from web.runtime import db, runtime


def _author() -> news.Author:
    """The logged-in agent as the news' author; 403 for an agent who supervises no service."""
    supervised: frozenset[int] = current_user.supervised_service_ids
    if not supervised:
        abort(403)
    return news.Author(account_id=current_user.id, supervised_service_ids=supervised)


@bp.get("/agent/actualites")
@role_required(Role.AGENT)
def agent_liste() -> str:
    return render_template("messagerie/news/agent_liste.html", items=news.sent_by(db(), _author()))


@bp.get("/agent/actualites/<int:news_id>")
@role_required(Role.AGENT)
def agent_detail(news_id: int) -> str:
    try:
        sent = news.sent_one(db(), _author(), news_id)
    except news.NewsNotFound:
        abort(404)
    return render_template("messagerie/news/agent_detail.html", sent=sent)


@bp.get("/agent/actualites/nouvelle")
@role_required(Role.AGENT)
def agent_nouvelle() -> str:
    _author()
    return _composer({})


@bp.post("/agent/actualites/nouvelle")
@role_required(Role.AGENT)
def agent_envoyer() -> tuple[str, int] | str | BaseResponse:
    author = _author()
    form = request.form
    service_id = _number(form.get("service", ""))
    if service_id not in author.supervised_service_ids:
        abort(400)  # the composer offers the services the agent supervises only
    try:
        criteria = criteria_from(form)
        reach = news.preview(db(), runtime().clock, criteria, service_id)
    except InvalidCriteria:
        abort(400)
    if form.get("action") != "envoyer":
        return _composer(form, reach)
    if form.get("foyers") != str(reach.foyers):
        # The families matching changed since the preview the agent saw: show it again.
        return _composer(form, reach, _("Le nombre de familles a changé : vérifiez-le.")), 409
    draft = news.Draft(
        service_id=service_id,
        title=form.get("titre", ""),
        body=form.get("texte", ""),
        criteria=criteria,
    )
    try:
        sent = news.publish(db(), runtime().clock, author, draft)
    except news.NewsError as error:
        return _composer(form, reach, error.message), 400
    flash(_("Actualité envoyée à %(count)s familles.", count=sent.foyers_count), "success")
    return redirect(url_for("actualites.agent_detail", news_id=sent.id), code=303)


def _composer(form: Mapping[str, str], reach: Reach | None = None, error: str = "") -> str:
    known = audience.choices(db())
    criteria = criteria_from(form) if reach is not None else None
    return render_template(
        "messagerie/news/agent_nouvelle.html",
        form=form,
        known=known,
        services=news.supervised_services(db(), current_user.id),
        reach=reach,
        described=audience.describe(criteria, known) if criteria is not None else "",
        error=error,
    )


def criteria_from(form: Mapping[str, str]) -> Criteria:
    """The criteria the composer's form gives (InvalidCriteria for a malformed activity)."""
    activity = form.get("activite", "").strip()
    activity_id = _number(activity) if activity else None
    if activity and activity_id is None:
        raise InvalidCriteria("activity")
    return Criteria(
        school=form.get("ecole", "").strip(),
        level=form.get("niveau", "").strip(),
        activity_id=activity_id,
        site=form.get("lieu", "").strip(),
        expiring_documents=form.get("expire") == "1",
    )


def _number(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 10 else None
