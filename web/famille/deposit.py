"""Deposit a document in the family's vault, or a new version of one (?remplace=ID).

The form works as a plain POST; `static/js/depot.js` sends the same form with
XMLHttpRequest (Accept: application/json) to show the upload's progress, and gets the
field errors or the page to go to as JSON.
"""

from __future__ import annotations

import logging
import re
from datetime import date

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.wrappers import Response as BaseResponse
from wtforms import DateField, Field, SelectField, ValidationError
from wtforms.validators import DataRequired, Optional

from accounts.models import Role
from coffre.catalogue import DOCUMENT_TYPES
from coffre.clock import local_today
from coffre.consent import FamilyReader
from coffre.inspection.uploads import UploadRefused
from coffre.models import Document
from coffre.vault import Upload
from stockage import StorageError
from web.auth.guard import role_required
from web.counter import deposit_channel
from web.famille.blueprint import bp, family_reader
from web.famille.documents import (
    NOT_DEPOSITED_BY_FAMILIES,
    current_document,
    document_line,
    foyer_members,
    member_name,
)
from web.runtime import db, runtime

log = logging.getLogger(__name__)
PageResult = BaseResponse | tuple[str | BaseResponse, int]


class DepositForm(FlaskForm):
    type_code = SelectField(
        _l("Type of document"), validators=[DataRequired(_l("Choose the type of document."))]
    )
    member_id = SelectField(_l("Person concerned (optional)"), validators=[Optional()])
    issued_on = DateField(
        _l("Date of issue"), validators=[DataRequired(_l("Enter the date of issue."))]
    )
    fichier = FileField(_l("File"), validators=[FileRequired(_l("Choose the file to deposit."))])

    def validate_issued_on(self, field: Field) -> None:
        if field.data and field.data > local_today(runtime().clock):
            raise ValidationError(_("The date of issue cannot be in the future."))


def deposit_form(foyer_id: int, replaced: Document | None) -> DepositForm:
    """The form with this foyer's choices; a new version keeps the type and the person."""
    form = DepositForm()
    if replaced is not None:
        del form.type_code, form.member_id
        return form
    kinds = sorted(
        (kind for code, kind in DOCUMENT_TYPES.items() if code not in NOT_DEPOSITED_BY_FAMILIES),
        key=lambda kind: kind.label,
    )
    form.type_code.choices = [("", _("Choose a type")), *((k.code, k.label) for k in kinds)]
    if request.method == "GET" and request.args.get("type") in {k.code for k in kinds}:
        form.type_code.data = request.args["type"]  # the type a request's page asked for
    form.member_id.choices = [("", _("The whole household"))] + [
        (str(member.id), member_name(member)) for member in foyer_members(db(), foyer_id)
    ]
    if request.method == "GET" and request.args.get("membre") in dict(form.member_id.choices):
        form.member_id.data = request.args["membre"]  # the child a request is about
    return form


@bp.route("/coffre/ajouter", methods=["GET", "POST"])
@role_required(Role.FAMILLE)
def ajouter() -> PageResult:
    reader = family_reader()
    replaced = _replaced(reader)
    form = deposit_form(reader.foyer_id, replaced)
    if not form.validate_on_submit():
        return _form_page(form, replaced, 400 if request.method == "POST" else 200)
    try:
        deposited = runtime().vault.deposit(db(), _upload(form, reader, replaced))
    except UploadRefused as refused:
        form.fichier.errors = [refused.message]  # French, written for parents by the vault
        return _form_page(form, replaced, 422)
    except StorageError as failure:
        # The vault wrote no row: the deposit is simply not there; say so beside the file.
        log.error("deposit failed, object storage error: %s", type(failure).__name__)
        form.fichier.errors = [
            _(
                "The safe is temporarily unavailable: your document has not been saved. "
                "Please try again in a few minutes."
            )
        ]
        return _form_page(form, replaced, 503)
    if replaced is None:
        flash(_("Your document has been deposited in your safe."), "info")
    else:
        flash(
            _("The new version has been deposited; the previous one stays in its history."), "info"
        )
    back = _return_path()
    # Back on the request, the new document is ticked to be shared (the family may untick it).
    target = f"{back}?ajoute={deposited.id}" if back and replaced is None else back
    target = target or url_for("famille.coffre")
    if _wants_json():
        return jsonify(redirect=target), 201
    return redirect(target, 303)


# A deposit started from a request's page goes back there (?retour=), and nowhere else.
_RETURN_PATH = re.compile(r"/famille/demandes/\d+(?:/justificatifs)?")


def _return_path() -> str | None:
    target = request.args.get("retour", "")
    return target if _RETURN_PATH.fullmatch(target) else None


def _replaced(reader: FamilyReader) -> Document | None:
    if "remplace" not in request.args:
        return None
    document = current_document(db(), reader, request.args.get("remplace", -1, type=int))
    if document.type_code in NOT_DEPOSITED_BY_FAMILIES:
        abort(403)  # a document the town issued is replaced by the town, never by the family
    return document


def _upload(form: DepositForm, reader: FamilyReader, replaced: Document | None) -> Upload:
    upload = request.files["fichier"]
    if replaced is not None:
        type_code, member_id = replaced.type_code, replaced.member_id
    else:
        type_code = form.type_code.data
        member_id = int(form.member_id.data) if form.member_id.data else None
    issued_on: date = form.issued_on.data
    return Upload(
        foyer_id=reader.foyer_id,
        type_code=type_code,
        filename=upload.filename or "",
        stream=upload.stream,  # spooled to disk by werkzeug; the vault reads it chunk by chunk
        issued_on=issued_on,
        member_id=member_id,
        actor_id=reader.account_id,
        channel=deposit_channel(),  # "guichet" when an agent deposits at the counter
        replaces_id=replaced.id if replaced is not None else None,
    )


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _form_page(form: DepositForm, replaced: Document | None, status: int) -> PageResult:
    if _wants_json():
        errors = {name: list(field.errors) for name, field in form._fields.items() if field.errors}
        return jsonify(errors=errors), status
    today = local_today(runtime().clock)
    page = render_template(
        "famille/ajouter.html",
        form=form,
        replaced=document_line(replaced, today) if replaced else None,
        max_mb=runtime().settings.max_document_mb,
        today_iso=today.isoformat(),
        back_to=_return_path(),
    )
    return page, status
