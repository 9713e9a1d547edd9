"""The procedure designer: the bpmn-js modeler page, the draft's diagram, save and publish.

The modeler (web/static/js/designer.js) saves with a JSON POST carrying the CSRF token in a
header and gets back the draft's problems, each with the id of the element to highlight.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from procedures.designer.publication import (
    Draft,
    DraftInvalid,
    DraftTooLarge,
    delete_draft,
    forms_to_edit,
    open_draft,
    panel_settings,
    publish_draft,
    save_draft,
    version_numbered,
)
from web.admin.blueprint import bp
from web.auth.guard import role_required
from web.errors import render_error
from web.runtime import db, runtime
from web.security import content_security_policy

BPMN_MIMETYPE = "application/bpmn+xml"
# What the administrator types in the metadata or a property, inside a French hint: TOML
# tables (`[[fields]]`, `[tasks.<id>]`) and snake_case keys (`max_age_months`).
_KEYS = re.compile(r"\[\[?[\w.<> ']+\]\]?|\b[a-z]+(?:_[a-z]+)+\b")


@bp.app_template_filter("keys_as_code")
def keys_as_code(text: str) -> Markup:
    """A translated hint with the keys it names set as code: the reader sees what to type."""
    parts, last = [], 0
    for found in _KEYS.finditer(text):
        parts += [escape(text[last : found.start()]), Markup("<code>%s</code>") % found.group()]
        last = found.end()
    return Markup("").join([*parts, escape(text[last:])])


@bp.get("/procedures/<code>/concepteur")
@role_required(Role.ADMIN)
def procedure_designer(code: str) -> Response:
    draft = open_draft(db(), code)
    forms = _forms(draft)
    settings = panel_settings(db(), draft)
    page = render_template(
        "admin/procedure_designer.html", code=code, draft=draft, forms=forms, settings=settings
    )
    # form-js and dmn-js style their editors inline: allowed on this page only.
    return Response(
        page, headers={"Content-Security-Policy": content_security_policy(inline_styles=True)}
    )


@bp.get("/procedures/<code>/brouillon.bpmn")
@role_required(Role.ADMIN)
def procedure_draft_bpmn(code: str) -> Response:
    """The draft's diagram (the current version's when there is no draft), for the modeler."""
    return _bpmn(open_draft(db(), code).bpmn_xml, f"{code}-brouillon.bpmn")


@bp.get("/procedures/<code>/version-<int:number>.bpmn")
@role_required(Role.ADMIN)
def procedure_version_bpmn(code: str, number: int) -> Response:
    return _bpmn(version_numbered(db(), code, number).bpmn_xml, f"{code}-v{number}.bpmn")


def _bpmn(xml: str, filename: str) -> Response:
    response = Response(xml, mimetype=BPMN_MIMETYPE)
    if request.args.get("telecharger"):
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.post("/procedures/<code>/brouillon")
@role_required(Role.ADMIN)
def procedure_save_draft(code: str) -> BaseResponse | tuple[Response | str, int]:
    """Save the draft: JSON from the modeler, or the metadata form without JavaScript."""
    payload: Any = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(payload, dict) and not hasattr(payload, "get"):
        abort(400)
    bpmn, metadata = payload.get("bpmn"), payload.get("metadata")
    if not isinstance(bpmn, str) or not isinstance(metadata, str):
        if request.is_json:
            abort(400)
        bpmn = open_draft(db(), code).bpmn_xml  # the form sends only the metadata
        metadata = metadata if isinstance(metadata, str) else ""
    decisions = payload.get("dmn") if request.is_json else None
    forms = payload.get("forms") if request.is_json else None
    settings = payload.get("settings") if request.is_json else None
    if settings is not None and not isinstance(settings, dict):
        abort(400)
    if decisions is not None and not isinstance(decisions, str):
        abort(400)
    if forms is not None and not isinstance(forms, dict):
        abort(400)
    try:
        draft = save_draft(
            db(), runtime().clock, code, bpmn, metadata, current_user.id, decisions, forms,
            settings,
        )  # fmt: skip
    except DraftInvalid as exc:
        if request.is_json:
            # 413 when too large, 422 when a form built in the form builder cannot be used.
            status = 413 if isinstance(exc, DraftTooLarge) else 422
            return jsonify(saved=False, problems=_problems(exc.problems)), status
        # Not "the file is too large": there is no file, and the draft stays as it was.
        return render_error(413, _("The draft exceeds the allowed size: nothing was saved."))
    if request.is_json:
        return jsonify(
            saved=True,
            saved_at=_saved_at(draft),
            problems=_problems(draft.problems),
            before_publishing=_problems(draft.before_publishing),
            metadata=draft.metadata_toml,
            forms=_forms(draft),  # a step drawn since the page opened gets its form
        )
    flash(_("Draft saved."))
    return redirect(url_for("admin.procedure_designer", code=code))


def _forms(draft: Draft) -> list[dict[str, Any]]:
    """The forms the form builder edits: the family's, then each step's."""
    return [
        {"key": form.key, "label": form.label, "schema": form.schema}
        for form in forms_to_edit(draft)
    ]


def _problems(problems: list[Any]) -> list[dict[str, str]]:
    return [{"element_id": p.element_id, "message": p.message} for p in problems]


def _saved_at(draft: Draft) -> str:
    return format_datetime(draft.updated_at, "short") if draft.updated_at else ""


@bp.post("/procedures/<code>/publier")
@role_required(Role.ADMIN)
def procedure_publish(code: str) -> BaseResponse:
    try:
        version = publish_draft(db(), runtime().clock, code, current_user.id)
    except DraftInvalid as exc:
        flash(_("The draft was not published: correct its problems first."), "error")
        for problem in exc.problems[:20]:
            flash(problem.message, "error")
        return redirect(url_for("admin.procedure_designer", code=code))
    flash(_("Version %(number)s of %(code)s is published.", number=version.version, code=code))
    return redirect(url_for("admin.procedure", code=code))


@bp.post("/procedures/<code>/brouillon/abandonner")
@role_required(Role.ADMIN)
def procedure_discard_draft(code: str) -> BaseResponse:
    delete_draft(db(), runtime().clock, code, current_user.id)
    flash(_("The draft was discarded."))
    return redirect(url_for("admin.procedure", code=code))
