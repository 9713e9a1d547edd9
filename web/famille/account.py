"""Delete the family's whole vault and its accounts, for good (typed confirmation)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import Field, StringField, ValidationError

from accounts.credentials import close_foyer_accounts
from accounts.models import Role
from messagerie import threads
from web.auth.guard import role_required
from web.famille.blueprint import bp, family_reader
from web.runtime import db, runtime

CONFIRMATION_WORD = "SUPPRIMER"


class DeleteAccountForm(FlaskForm):
    confirmation = StringField(_l("Confirmation"))

    def validate_confirmation(self, field: Field) -> None:
        if (field.data or "").strip() != CONFIRMATION_WORD:
            raise ValidationError(
                _("Type the word %(word)s in capital letters to confirm.", word=CONFIRMATION_WORD)
            )


@bp.route("/compte/supprimer", methods=["GET", "POST"])
@role_required(Role.FAMILLE)
def supprimer_compte() -> BaseResponse | tuple[str, int]:
    form = DeleteAccountForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template(
            "famille/supprimer_compte.html", form=form, word=CONFIRMATION_WORD
        ), status
    reader = family_reader()
    runtime().vault.shred_foyer(db(), reader.foyer_id, reader.account_id)
    threads.erase_deleted_foyers(db())  # what the family wrote in its messages goes too
    close_foyer_accounts(db(), reader.foyer_id)
    logout_user()
    flash(_("Your account and your family's safe have been deleted."), "info")
    return redirect(url_for("public.home"), 303)
