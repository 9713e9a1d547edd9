"""Reading and accepting the information in force about the family space (R.55-1).

Families whose account was not made on the sign-up page, or who accepted an earlier
version, come here before any other page of their space (web.auth.guard).
"""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import BooleanField, HiddenField
from wtforms.validators import DataRequired

from accounts import information
from accounts.models import Account, Role
from web.auth.guard import role_required
from web.famille.blueprint import bp
from web.runtime import db, runtime


class AcceptInformationForm(FlaskForm):
    information = BooleanField(
        _l("I have read the information about the family space and I accept it."),
        validators=[
            DataRequired(_l("Tick this box to go on: it says that you have read the information."))
        ],
    )
    # The version shown on the page: if a new one is published meanwhile, it is not accepted.
    information_version = HiddenField(default=lambda: information.in_force_identifier(db()))


@bp.route("/information", methods=["GET", "POST"], endpoint="information")
@role_required(Role.FAMILLE)
def information_page() -> BaseResponse | tuple[str, int]:
    # An agent at the counter accepts nothing for the family; a family that accepted the
    # version in force has nothing more to read here.
    up_to_date = not information.must_accept(
        db(), current_user.role, current_user.information_version
    )
    if current_user.role is not Role.FAMILLE or (up_to_date and request.method == "GET"):
        return redirect(url_for("famille.index"))
    form = AcceptInformationForm()
    if form.validate_on_submit():
        try:
            information.accept(
                db(), runtime().clock, current_user.id, form.information_version.data
            )
        except information.UnknownVersion:
            form.information.data = False
            form.information_version.data = information.in_force_identifier(db())
            form.information.errors = [
                _(
                    "The information has just changed: read the new version, then tick the box "
                    "again."
                )
            ]
        else:
            return redirect(url_for("famille.index"))
    account = db().get(Account, current_user.id)
    page = render_template(
        "famille/information.html",
        form=form,
        version=information.current(db()),
        accepted=information.find(db(), account.information_version or "") if account else None,
        accepted_at=account.information_accepted_at if account else None,
    )
    return page, 400 if request.method == "POST" else 200
