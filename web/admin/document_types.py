"""Administration of document types: every administrator reads them, a global one edits them."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from accounts import document_types as admin_document_types
from accounts.document_types import FORMAT_NAMES, DocumentTypeRules
from accounts.models import Role
from accounts.organisation import InvalidValue, administrator, global_administrator
from coffre.catalogue import KNOWN_FORMATS, Validity
from web.admin.blueprint import bp, invalid_message
from web.auth.guard import role_required
from web.runtime import db, runtime

Page = str | BaseResponse | tuple[str, int]


def validity_labels() -> dict[Validity, str]:
    return {
        Validity.MONTHS: _("A number of months after its issue date"),
        Validity.END_OF_NEXT_YEAR: _("Until 31 December of the year after its issue"),
        Validity.UNLIMITED: _("Unlimited"),
    }


@bp.get("/types-de-documents")
@role_required(Role.ADMIN)
def document_types() -> str:
    session = db()
    return render_template(
        "admin/types_documents.html",
        types=admin_document_types.document_types(session, current_user.id),
        is_global=administrator(session, current_user.id).is_global,
        validity_labels=validity_labels(),
        format_names=FORMAT_NAMES,
    )


def _edit_page(code: str, errors: dict[str, str] | None = None) -> tuple[str, int]:
    page = render_template(
        "admin/type_document.html",
        kind=admin_document_types.document_type_of(db(), current_user.id, code),
        validity_labels=validity_labels(),
        formats=[(f, FORMAT_NAMES[f]) for f in KNOWN_FORMATS],
        errors=errors or {},
    )
    return page, 400 if errors else 200


def _rules_from_form() -> DocumentTypeRules:
    try:
        validity = Validity(request.form.get("validity", ""))
    except ValueError:
        raise InvalidValue("validity", "unknown") from None
    months_text = request.form.get("months", "").strip() or "0"
    if not months_text.isdigit():
        raise InvalidValue("months", "range")
    return DocumentTypeRules(
        validity=validity,
        months=int(months_text),
        reusable=request.form.get("reusable") == "oui",
        formats=frozenset(request.form.getlist("formats")),
    )


@bp.route("/types-de-documents/<code>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def document_type(code: str) -> Page:
    global_administrator(db(), current_user.id)  # entity administrators only read the rules
    if request.method == "GET":
        return _edit_page(code)
    try:
        admin_document_types.set_document_type_rules(
            db(), runtime().clock, current_user.id, code, _rules_from_form()
        )
    except InvalidValue as error:
        return _edit_page(code, {error.field: invalid_message(error)})
    flash(_("The document type's rules have been saved."), "success")
    return redirect(url_for("admin.document_types"))


@bp.post("/types-de-documents/<code>/retablir")
@role_required(Role.ADMIN)
def document_type_restore(code: str) -> BaseResponse:
    admin_document_types.restore_document_type(db(), runtime().clock, current_user.id, code)
    flash(_("The document type's built-in rules apply again."), "success")
    return redirect(url_for("admin.document_types"))
