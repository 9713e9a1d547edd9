"""The household file: adults, children, address and the validated income bracket."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import BooleanField, DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from accounts.household import (
    ALLERGIES_MAX,
    SCHOOL_MAX,
    ChildNotFound,
    DetailTooLong,
    FoyerNotFound,
    InvalidChildDetails,
    add_child,
    household,
    household_child,
    update_address,
    update_child,
)
from accounts.models import Role
from web.auth.guard import role_required
from web.famille.blueprint import bp, family_reader
from web.runtime import db, runtime


class ChildDetailsForm(FlaskForm):
    """What the school, the canteen and after-school care need to know about a child."""

    school = StringField(_l("School attended (optional)"), validators=[Optional()])
    has_pai = BooleanField(_l("My child has a PAI (individual reception plan)"))
    allergies = TextAreaField(
        _l("Allergies or health needs (optional)"),
        description=_l("Required if your child has a PAI: what the canteen must know."),
        validators=[Optional()],
    )


class ChildForm(ChildDetailsForm):
    first_name = StringField(_l("Child's first name"), validators=[DataRequired(), Length(max=120)])
    last_name = StringField(_l("Child's last name"), validators=[DataRequired(), Length(max=120)])
    birth_date = DateField(_l("Child's birth date"), validators=[DataRequired()])


def _details_error(form: ChildDetailsForm, error: InvalidChildDetails) -> None:
    """Put the service's refusal, in French, beside the field it concerns."""
    if isinstance(error, DetailTooLong):
        limit = SCHOOL_MAX if error.field == "school" else ALLERGIES_MAX
        message = _("At most %(count)d characters.", count=limit)
    else:
        message = _("Describe the allergies or health needs covered by the PAI.")
    form[error.field].errors = [message]


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
    return family_reader().foyer_id  # the family's own, or the one an agent acts for


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
            school=form.school.data,
            has_pai=form.has_pai.data,
            allergies=form.allergies.data,
        )
    except FoyerNotFound:
        abort(404)
    except InvalidChildDetails as error:
        _details_error(form, error)
        return _page(form, AddressForm(prefix="adresse", formdata=None), 400)
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


def _child_page(child_id: int, form: ChildDetailsForm, status: int = 200) -> tuple[str, int]:
    try:
        child = household_child(db(), _foyer_id(), child_id)
    except (FoyerNotFound, ChildNotFound):
        abort(404)
    if not form.is_submitted():
        form.school.data = child.school
        form.has_pai.data = child.has_pai
        form.allergies.data = child.allergies
    return render_template("famille/enfant.html", child=child, form=form), status


@bp.get("/foyer/enfants/<int:child_id>")
@role_required(Role.FAMILLE)
def foyer_enfant_details(child_id: int) -> tuple[str, int]:
    return _child_page(child_id, ChildDetailsForm(prefix="details"))


@bp.post("/foyer/enfants/<int:child_id>")
@role_required(Role.FAMILLE)
def foyer_enfant_modifier(child_id: int) -> tuple[str, int] | BaseResponse:
    form = ChildDetailsForm(prefix="details")
    if not form.validate_on_submit():
        return _child_page(child_id, form, 400)
    try:
        update_child(
            db(),
            _foyer_id(),
            child_id,
            school=form.school.data,
            has_pai=form.has_pai.data,
            allergies=form.allergies.data,
        )
    except (FoyerNotFound, ChildNotFound):
        abort(404)
    except InvalidChildDetails as error:
        _details_error(form, error)
        return _child_page(child_id, form, 400)
    flash(_("Your child's details have been updated."), "success")
    return redirect(url_for("famille.foyer"))
