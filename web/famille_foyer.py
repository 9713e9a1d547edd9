"""The household file: adults, children, address and the validated income bracket."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import DateField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from procedures.accounts import FoyerNotFound, add_child, household, update_address
from procedures.models import Role
from web.auth import role_required
from web.famille import bp
from web.runtime import db, runtime


class ChildForm(FlaskForm):
    first_name = StringField(_l("Child's first name"), validators=[DataRequired(), Length(max=120)])
    last_name = StringField(_l("Child's last name"), validators=[DataRequired(), Length(max=120)])
    birth_date = DateField(_l("Child's birth date"), validators=[DataRequired()])


class AddressForm(FlaskForm):
    address_line = StringField(
        _l("Street and number"), validators=[DataRequired(), Length(max=300)]
    )
    postal_code = StringField(
        _l("Household postal code"),
        validators=[DataRequired(), Regexp(r"^\d{5}$", message=_l("Five digits."))],
    )
    city = StringField(_l("Household city"), validators=[DataRequired(), Length(max=120)])


def _foyer_id() -> int:
    if current_user.foyer_id is None:
        abort(403)
    return int(current_user.foyer_id)


def _page(child_form: ChildForm, address_form: AddressForm, status: int = 200) -> tuple[str, int]:
    try:
        file = household(db(), _foyer_id())
    except FoyerNotFound:
        abort(404)
    if not address_form.is_submitted():
        address_form.address_line.data = file.address_line
        address_form.postal_code.data = file.postal_code
        address_form.city.data = file.city
    qf_valid = (
        file.qf_valid_until is not None and file.qf_valid_until >= runtime().clock.now().date()
    )
    page = render_template(
        "famille/foyer.html",
        file=file,
        child_form=child_form,
        address_form=address_form,
        qf_valid=qf_valid,
    )
    return page, status


@bp.get("/foyer")
@role_required(Role.FAMILLE)
def foyer() -> tuple[str, int]:
    return _page(ChildForm(prefix="enfant"), AddressForm(prefix="adresse"))


@bp.post("/foyer/enfants")
@role_required(Role.FAMILLE)
def foyer_enfant() -> tuple[str, int] | BaseResponse:
    form = ChildForm(prefix="enfant")
    valid = form.validate_on_submit()
    if valid and form.birth_date.data > runtime().clock.now().date():
        form.birth_date.errors = [_("The birth date cannot be in the future.")]
        valid = False
    if not valid:
        return _page(form, AddressForm(prefix="adresse", formdata=None), 400)
    try:
        add_child(
            db(),
            _foyer_id(),
            first_name=form.first_name.data,
            last_name=form.last_name.data,
            birth_date=form.birth_date.data,
        )
    except FoyerNotFound:
        abort(404)
    flash(_("The child has been added to your household."), "success")
    return redirect(url_for("famille.foyer"))


@bp.post("/foyer/adresse")
@role_required(Role.FAMILLE)
def foyer_adresse() -> tuple[str, int] | BaseResponse:
    form = AddressForm(prefix="adresse")
    if not form.validate_on_submit():
        return _page(ChildForm(prefix="enfant", formdata=None), form, 400)
    try:
        changed = update_address(
            db(),
            _foyer_id(),
            address_line=form.address_line.data,
            postal_code=form.postal_code.data,
            city=form.city.data,
        )
    except FoyerNotFound:
        abort(404)
    if changed:
        flash(
            _(
                "Your address has been updated. A new proof of address will be asked for "
                "your next requests."
            ),
            "warning",
        )
    return redirect(url_for("famille.foyer"))
