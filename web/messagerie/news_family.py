"""The family's news in its space, and the unsubscribe link of the news' e-mails (no login)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from messagerie import news, news_subscription
from web.auth.guard import role_required
from web.famille.blueprint import family_reader
from web.messagerie.news_blueprint import bp
from web.runtime import db, runtime


@bp.get("/famille/actualites")
@role_required(Role.FAMILLE)
def famille_liste() -> str:
    reader = family_reader()
    by_family = current_user.role is Role.FAMILLE
    return render_template(
        "messagerie/news/famille_liste.html",
        items=news.of_foyer(db(), reader.foyer_id),
        subscribed=by_family and news_subscription.receives_news(db(), current_user.id),
        by_family=by_family,
    )


@bp.get("/famille/actualites/<int:news_id>")
@role_required(Role.FAMILLE)
def famille_lire(news_id: int) -> str:
    reader = family_reader()
    by_family = current_user.role is Role.FAMILLE  # not an agent at the counter
    try:
        item = news.read(db(), runtime().clock, reader.foyer_id, news_id, by_family=by_family)
    except news.NewsNotFound:
        abort(404)
    return render_template("messagerie/news/famille_lire.html", item=item)


@bp.post("/famille/actualites/abonnement")
@role_required(Role.FAMILLE)
def famille_abonnement() -> BaseResponse:
    # The adult's own choice: an agent at the counter does not make it for them.
    if current_user.role is not Role.FAMILLE:
        abort(403)
    if news_subscription.receives_news(db(), current_user.id):
        news_subscription.unsubscribe(db(), runtime().clock, current_user.id)
        flash(_("Vous ne recevrez plus les actualités par courriel."), "success")
    else:
        news_subscription.resubscribe(db(), current_user.id)
        flash(_("Vous recevrez à nouveau les actualités par courriel."), "success")
    return redirect(url_for("actualites.famille_liste"), code=303)


@bp.route("/actualites/desabonnement/<token>", methods=["GET", "POST"])
def desabonnement(token: str) -> str | tuple[str, int]:
    """The link of every news e-mail: a page to confirm, then the confirmation (no login)."""
    try:
        account = news_subscription.account_of(db(), runtime().settings.secret_key, token)
    except news_subscription.InvalidUnsubscribeLink:
        return render_template("messagerie/news/desabonnement_invalide.html"), 400
    if request.method == "POST":
        news_subscription.unsubscribe(db(), runtime().clock, account.id)
    return render_template(
        "messagerie/news/desabonnement.html",
        token=token,
        done=not news_subscription.receives_news(db(), account.id),
    )
