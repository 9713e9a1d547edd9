"""Administration of entities and their services: create, rename, mark the counter's."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

from accounts import organisation as administration
from accounts.models import Role
from accounts.organisation import InvalidValue
from web.admin.blueprint import bp, invalid_message
from web.auth.guard import role_required
from web.runtime import db, runtime

Page = str | BaseResponse | tuple[str, int]
CODE_HINT = _l("2 to 60 lowercase letters, digits, hyphens or underscores; it cannot be changed.")


def _name_field() -> StringField:
    return StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])


class EntityForm(FlaskForm):
    slug = StringField(
        _l("Identifier"), validators=[DataRequired(), Length(max=60)], description=CODE_HINT
    )
    name = _name_field()


class ServiceForm(FlaskForm):
    code = StringField(
        _l("Service code (used by the procedures' lanes)"),
        validators=[DataRequired(), Length(max=60)],
        description=CODE_HINT,
    )
    name = _name_field()


class NameForm(FlaskForm):
    name = _name_field()


def form_page(form: FlaskForm, title: str, submit: str, intro: str = "") -> tuple[str, int]:
    """An administration form, with its errors; 400 when a submission was refused."""
    status = 400 if request.method == "POST" else 200
    page = render_template(
        "admin/formulaire.html", form=form, title=title, submit=submit, intro=intro
    )
    return page, status


def refused(form: FlaskForm, error: InvalidValue, title: str, submit: str) -> tuple[str, int]:
    """The form again, the refused field carrying its French message."""
    field = getattr(form, error.field, None) or form["name"]
    field.errors = [*field.errors, invalid_message(error)]
    return form_page(form, title, submit)


def _saved_or_page(
    form: FlaskForm, title: str, submit: str, save: Callable[[], object], done: str
) -> Page:
    """The form until it validates; then `save()` and back to the organisation's page.

    A value the service refuses shows the form again, that field carrying why.
    """
    if not form.validate_on_submit():
        return form_page(form, title, submit)
    try:
        save()
    except InvalidValue as error:
        return refused(form, error, title, submit)
    flash(done, "success")
    return redirect(url_for("admin.index"))


@bp.route("/entites/nouvelle", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def entity_new() -> Page:
    administration.global_administrator(db(), current_user.id)
    form = EntityForm()

    def save() -> int:
        return administration.create_entity(
            db(), runtime().clock, current_user.id, slug=form.slug.data, name=form.name.data
        )

    title, submit = _("New entity"), _("Create the entity")
    return _saved_or_page(form, title, submit, save, _("The entity has been created."))


@bp.route("/entites/<int:entity_id>/renommer", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def entity_rename(entity_id: int) -> Page:
    administration.global_administrator(db(), current_user.id)
    entity = administration.entity_in_reach(db(), current_user.id, entity_id)
    form = NameForm(data={"name": entity.name})

    def save() -> None:
        administration.rename_entity(
            db(), runtime().clock, current_user.id, entity_id, form.name.data
        )

    title, submit = _("Rename the entity %(name)s", name=entity.name), _("Save")
    return _saved_or_page(form, title, submit, save, _("The entity has been renamed."))


@bp.route("/entites/<int:entity_id>/services/nouveau", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def service_new(entity_id: int) -> Page:
    entity = administration.entity_in_reach(db(), current_user.id, entity_id)
    form = ServiceForm()

    def save() -> int:
        return administration.create_service(
            db(),
            runtime().clock,
            current_user.id,
            entity_id,
            code=form.code.data,
            name=form.name.data,
        )

    title, submit = _("New service of %(entity)s", entity=entity.name), _("Create the service")
    return _saved_or_page(form, title, submit, save, _("The service has been created."))


@bp.route("/services/<int:service_id>/renommer", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def service_rename(service_id: int) -> Page:
    service = administration.service_in_reach(db(), current_user.id, service_id)
    form = NameForm(data={"name": service.name})

    def save() -> None:
        administration.rename_service(
            db(), runtime().clock, current_user.id, service_id, form.name.data
        )

    title, submit = _("Rename the service %(name)s", name=service.name), _("Save")
    return _saved_or_page(form, title, submit, save, _("The service has been renamed."))


class CounterForm(FlaskForm):
    """Whether the service runs the town's counter (a hidden field the button sets)."""

    runs_counter = BooleanField()


@bp.post("/services/<int:service_id>/guichet")
@role_required(Role.ADMIN)
def service_counter(service_id: int) -> BaseResponse:
    form = CounterForm()
    form.validate_on_submit()  # the CSRF token was checked before; the box may be unticked
    runs_counter = bool(form.runs_counter.data)
    administration.set_runs_counter(
        db(), runtime().clock, current_user.id, service_id, runs_counter
    )
    if runs_counter:
        flash(_("The service now runs the counter."), "success")
    else:
        flash(_("The service no longer runs the counter."), "success")
    return redirect(url_for("admin.index"))
