"""The information shown before sign-up (R.55-1): a global administrator writes a new
version in Markdown, previews it, and publishes it; published versions never change."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from accounts import information
from accounts.models import Role
from accounts.organisation import InvalidValue, global_administrator
from web.admin.blueprint import bp
from web.auth.guard import role_required
from web.runtime import db, runtime

# A starting point when the version in force is a built-in page: the headings R.55-1 asks for.
OUTLINE = """## Ce qu'est l'espace famille

## Comment vos documents sont protégés

## Qui peut lire vos documents, et quand

## Combien de temps ils sont conservés

## Récupérer vos documents

## Fermer votre espace
"""


@bp.route("/information", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def information_text() -> str | BaseResponse | tuple[str, int]:
    global_administrator(db(), current_user.id)  # the text is the whole installation's
    in_force = information.current(db())
    if request.method == "GET":
        return _page(in_force.text if in_force.text is not None else OUTLINE)
    text = request.form.get("text", "")
    if request.form.get("action") != "publier":
        return _page(text, preview=information.render(text))
    try:
        published = information.publish(db(), runtime().clock, current_user.id, text)
    except InvalidValue as error:
        return _page(text, error=_text_refused(error)), 400
    except information.VersionPublishedMeanwhile:
        return _page(text, error=_("Another version was published meanwhile: read it first.")), 409
    flash(
        _(
            "Version %(identifier)s is published: families will be asked to read it at their "
            "next visit.",
            identifier=published.identifier,
        ),
        "success",
    )
    return redirect(url_for("admin.information_text"), code=303)


def _page(text: str, preview: str | None = None, error: str | None = None) -> str:
    return render_template(
        "admin/information.html",
        text=text,
        preview=preview,
        error=error,
        in_force=information.current(db()),
        versions=list(reversed(information.versions(db()))),
    )


def _text_refused(error: InvalidValue) -> str:
    if error.reason == "too_long":
        return _("This text is too long (%(n)d characters at most).", n=information.TEXT_MAX)
    if error.reason == "empty_section":
        return _("Each heading needs its text below it: say what the family should know there.")
    return _("Write the text before publishing it.")
