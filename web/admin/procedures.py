"""Administration of procedures: the list, versions, diff, rollback, import and test run.

The designer itself (the modeler page, saving and publishing the draft) is in
`web.admin.designer`.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from accounts.models import Role
from procedures.bpmn.expressions import ScriptBudgetExceeded
from procedures.designer.importing import MAX_IMPORT_BYTES
from procedures.designer.publication import (
    DraftInvalid,
    DraftProblem,
    ProcedureExists,
    ProcedureUnknown,
    import_into_draft,
    new_draft,
    republish,
)
from procedures.designer.trial import trial_run
from procedures.designer.versions import diff_versions, procedures_overview, versions_of
from web.admin.blueprint import bp
from web.auth.guard import role_required
from web.errors import over_budget_message, render_error
from web.runtime import db, runtime

CODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
RESERVED_CODES = frozenset({"import", "nouvelle"})  # pages of this list, not procedures


@bp.errorhandler(ProcedureUnknown)
def _unknown(exc: ProcedureUnknown) -> tuple[Response | str, int]:
    return render_error(404)


@bp.get("/procedures")
@role_required(Role.ADMIN)
def procedures() -> str:
    return render_template("admin/procedures.html", procedures=procedures_overview(db()))


@bp.get("/procedures/<code>")
@role_required(Role.ADMIN)
def procedure(code: str) -> str:
    versions = versions_of(db(), code)
    overview = {item.code: item for item in procedures_overview(db())}
    if code not in overview:
        raise ProcedureUnknown(code)
    return render_template(
        "admin/procedure.html", code=code, summary=overview[code], versions=versions
    )


@bp.get("/procedures/<code>/diff")
@role_required(Role.ADMIN)
def procedure_diff(code: str) -> str:
    left, right = request.args.get("de", ""), request.args.get("a", "")
    if not (left.isdigit() and right.isdigit()):
        abort(400)
    diff = diff_versions(db(), code, int(left), int(right))
    return render_template("admin/procedure_diff.html", code=code, diff=diff)


@bp.post("/procedures/<code>/versions/<int:number>/republier")
@role_required(Role.ADMIN)
def procedure_republish(code: str, number: int) -> Response:
    try:
        version = republish(db(), runtime().clock, code, number, current_user.id)
    except DraftInvalid as exc:
        flash(_("Version %(number)s cannot be published again:", number=number), "error")
        for problem in exc.problems:
            flash(problem.message, "error")
        return redirect(url_for("admin.procedure", code=code))
    flash(_("Version %(old)s published again as version %(new)s.", old=number, new=version.version))
    return redirect(url_for("admin.procedure", code=code))


@bp.route("/procedures/import", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def procedure_import() -> Response | str | tuple[str, int]:
    code = (request.values.get("code") or "").strip().lower()
    if request.method == "GET":
        return render_template("admin/procedure_import.html", code=code, result=None)
    upload = request.files.get("fichier")
    if (
        not code
        or not set(code) <= CODE_CHARS
        or len(code) > 60
        or code in RESERVED_CODES
        or upload is None
    ):
        flash(_("Give the procedure's code (letters, digits, dashes) and a .bpmn file."), "error")
        return render_template("admin/procedure_import.html", code=code, result=None), 400
    data = upload.stream.read(MAX_IMPORT_BYTES + 1)
    filename = upload.filename or "diagramme.bpmn"
    result = import_into_draft(db(), runtime().clock, code, data, filename, current_user.id)
    if not result.accepted:
        return render_template("admin/procedure_import.html", code=code, result=result), 422
    flash(_("The diagram was imported: it is now the draft of %(code)s.", code=code))
    for warning in result.warnings:
        flash(warning.message)
    return redirect(url_for("admin.procedure_designer", code=code))


@bp.route("/procedures/nouvelle", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def procedure_new() -> Response | str | tuple[str, int]:
    """A new procedure from an empty diagram, built in the designer."""
    code = (request.values.get("code") or "").strip().lower()
    title = (request.values.get("titre") or "").strip()
    problem, status = None, 400
    if request.method == "GET":
        return render_template("admin/procedure_new.html", code=code, title=title)
    valid_code = bool(code) and set(code) <= CODE_CHARS and len(code) <= 60
    if not valid_code or code in RESERVED_CODES or not code[0].isalpha():
        problem = _(
            "Give the procedure's code: lower-case letters, digits, dashes, starting with a letter."
        )
    elif not title or len(title) > 200:
        problem = _(
            "Give the procedure's title, as families will read it (200 characters at most)."
        )
    else:
        try:
            new_draft(db(), runtime().clock, code, title, current_user.id)
        except ProcedureExists:
            problem = _("A procedure or a draft already has the code %(code)s.", code=code)
            status = 409
    if problem is not None:
        flash(problem, "error")
        return render_template("admin/procedure_new.html", code=code, title=title), status
    flash(_("The procedure %(code)s is created: build its diagram, then publish it.", code=code))
    return redirect(url_for("admin.procedure_designer", code=code))


@bp.get("/procedures/<code>/essai")
@role_required(Role.ADMIN)
def procedure_trial(code: str) -> str | tuple[str, int]:
    answers = {name: value for name, value in request.args.items() if len(value) <= 200}
    try:
        run = trial_run(db(), code, answers)
    except DraftInvalid as exc:
        return render_template(
            "admin/procedure_trial.html", code=code, run=None, problems=exc.problems
        ), 422
    except ScriptBudgetExceeded as exc:
        problem = DraftProblem(over_budget_message(exc))
        return render_template(
            "admin/procedure_trial.html", code=code, run=None, problems=[problem]
        ), 422
    return render_template(
        "admin/procedure_trial.html", code=code, run=run, answers=answers, problems=[]
    )


# The designer's routes register on `bp` when imported.
