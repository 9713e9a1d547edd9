"""The box a family ticks on every page that makes its account (R.55-1): sign-up, family
code, invitation; FranceConnect's first sign-in has its own form (web.auth.franceconnect)."""

from __future__ import annotations

from flask import render_template, request
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField
from wtforms.validators import DataRequired

from accounts import information
from web.runtime import db


class InformationForm(FlaskForm):
    """A form that makes a family account: the information must be ticked as read."""

    information = BooleanField(
        validators=[
            DataRequired(
                _l(
                    "Tick this box to create your account: it says that you have read the "
                    "information about the family space."
                )
            )
        ]
    )
    # The version shown on the page: if a new one is published meanwhile, it is not accepted.
    information_version = HiddenField(default=lambda: information.in_force_identifier(db()))


def information_changed() -> str:
    return _("The information has just changed: read the new version, then tick the box again.")


def form_page(form: InformationForm, title: str, submit: str, intro: str = "") -> tuple[str, int]:
    """The form's page, with the information's link and the box naming the version in force."""
    version = information.current(db())
    form.information.label.text = _(
        "I have read the information about the family space (version %(identifier)s of %(date)s).",
        identifier=version.identifier,
        date=format_date(version.published_on, "d MMMM yyyy"),
    )
    page = render_template(
        "auth/formulaire_information.html",
        form=form, title=title, submit=submit, intro=intro, version=version,
    )  # fmt: skip
    return page, 400 if request.method == "POST" else 200


def outdated(form: InformationForm, title: str, submit: str, intro: str = "") -> tuple[str, int]:
    """The form again, when the version ticked is no longer in force: to read and tick again."""
    form.information.data = False
    form.information_version.data = information.in_force_identifier(db())
    form.information.errors = [information_changed()]
    return form_page(form, title, submit, intro)
