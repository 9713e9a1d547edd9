"""The family's demandes: the catalogue, the form, the documents with consent, the follow-up."""

from __future__ import annotations

import json
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from coffre.catalogue import document_type
from coffre.clock import local_today
from coffre.models import Foyer, MemberRole
from procedures import demandes, family_views, tasks
from procedures.agent_views import form_lines
from procedures.catalogue import definition_of
from procedures.definitions import FormField, RequiredDocument
from procedures.demandes import FamilyActor
from procedures.errors import DemandeNotFound, Incomplete, InvalidTransition
from procedures.forms import from_child_file
from procedures.models import OPEN_STATUSES, Demande, DemandeStatus
from procedures.progress import version_of
from procedures.renewals import renew, renewable
from procedures.vault import withdrawal
from procedures.vault.contents import foyer_members
from procedures.vault.teams import family_shares
from web.auth.guard import role_required
from web.famille.blueprint import bp, family_reader
from web.famille.documents import owner_names, refusal_text
from web.runtime import db, runtime


def _actor() -> FamilyActor:
    reader = family_reader()
    assert reader.account_id is not None
    return FamilyActor(reader.account_id, reader.foyer_id)


def status_labels() -> dict[DemandeStatus, str]:
    return {
        DemandeStatus.BROUILLON: _("Draft"),
        DemandeStatus.DEPOSEE: _("Submitted"),
        DemandeStatus.EN_INSTRUCTION: _("Being processed"),
        DemandeStatus.EN_ATTENTE_FAMILLE: _("Waiting for your answer"),
        DemandeStatus.ACCEPTEE: _("Accepted"),
        DemandeStatus.REFUSEE: _("Refused"),
        DemandeStatus.CLASSEE: _("Closed"),
        DemandeStatus.ANNULEE: _("Cancelled"),
    }


def _draft(demande_id: int) -> tuple[Demande, Any]:
    demande = demandes.family_demande(db(), _actor(), demande_id)
    if demande.status is not DemandeStatus.BROUILLON:
        raise InvalidTransition(f"demande {demande_id} is no longer a draft")
    return demande, definition_of(version_of(db(), demande))


def _children() -> list[Any]:
    foyer = db().get(Foyer, _actor().foyer_id)
    assert foyer is not None
    return [m for m in foyer.members if m.role is MemberRole.ENFANT]


def _child_id(demande: Demande) -> int | None:
    value = json.loads(demande.form_data or "{}").get("enfant")
    return int(value) if value and str(value).isdigit() else None


def _chosen_ids(demande: Demande) -> list[int]:
    """Documents consented so far on the documents page (kept in the draft's form data)."""
    raw = json.loads(demande.form_data or "{}").get("_documents", "")
    return [int(part) for part in str(raw).split(",") if part.isdigit()]


def _form_values(demande: Demande) -> dict[str, str]:
    data = json.loads(demande.form_data or "{}")
    return {key: str(value) for key, value in data.items() if not key.startswith("_")}


@bp.get("/demarches")
@role_required(Role.FAMILLE)
def demarches() -> str:
    actor = _actor()
    today = local_today(runtime().clock)
    cards = family_views.open_procedures(db(), actor.foyer_id, today)
    renewals = renewable(db(), actor.foyer_id, today)
    return render_template("famille/demarches.html", cards=cards, renewals=renewals)


@bp.post("/demandes/<int:demande_id>/renouveler")
@role_required(Role.FAMILLE)
def renouveler(demande_id: int) -> BaseResponse:
    """Renew last year's registration: a draft with its answers and valid documents."""
    draft = renew(db(), runtime().engine_context, _actor(), demande_id)
    flash(_("Last year's answers are filled in: check them and continue."), "info")
    return redirect(url_for("famille.demande_formulaire", demande_id=draft.id), 303)


@bp.post("/demarches/<code>/commencer")
@role_required(Role.FAMILLE)
def commencer(code: str) -> BaseResponse:
    demande = demandes.create_draft(db(), runtime().engine_context, _actor(), code)
    return redirect(url_for("famille.demande_formulaire", demande_id=demande.id), 303)


@bp.route("/demandes/<int:demande_id>/formulaire", methods=["GET", "POST"])
@role_required(Role.FAMILLE)
def demande_formulaire(demande_id: int) -> str | BaseResponse:
    demande, definition = _draft(demande_id)
    if request.method == "POST":
        typed = {f.name: _field_value(f) for f in definition.fields}
        form = from_child_file(definition.fields, _form_values(demande), typed, _children())
        chosen = json.loads(demande.form_data or "{}").get("_documents", "")
        demandes.save_draft(
            db(), runtime().engine_context, _actor(), demande_id, {**form, "_documents": chosen}
        )
        if form != typed:
            # Shown before going on: the family checks what the child's file said.
            flash(_("The PAI recorded on your child's file has been filled in: check it."), "info")
        elif request.form.get("action") == "continuer":
            return redirect(url_for("famille.demande_justificatifs", demande_id=demande_id), 303)
        else:
            flash(_("Your draft has been saved."), "info")
        return redirect(url_for("famille.demande_formulaire", demande_id=demande_id), 303)
    return render_template(
        "famille/demande_formulaire.html",
        demande=demande,
        definition=definition,
        values=_form_values(demande),
        children=_children(),
    )


@bp.route("/demandes/<int:demande_id>/justificatifs", methods=["GET", "POST"])
@role_required(Role.FAMILLE)
def demande_justificatifs(demande_id: int) -> str | BaseResponse:
    demande, definition = _draft(demande_id)
    if request.method == "POST":
        ids = sorted({int(v) for v in request.form.getlist("partage") if v.isdigit()})
        values = {**_form_values(demande), "_documents": ",".join(map(str, ids))}
        demandes.save_draft(db(), runtime().engine_context, _actor(), demande_id, values)
        adding = request.form.get("ajouter", type=int)
        if adding is not None and 0 <= adding < len(definition.documents):
            return redirect(_add_page(demande, definition.documents[adding]), 303)
        return redirect(url_for("famille.demande_recapitulatif", demande_id=demande_id), 303)
    today = local_today(runtime().clock)
    requirements = family_views.requirements_of(
        db(), demande.foyer_id, definition, today, _child_id(demande), demande.id,
        answers=_form_values(demande),
    )  # fmt: skip
    return render_template(
        "famille/demande_justificatifs.html",
        demande=demande,
        definition=definition,
        requirements=requirements,
        chosen={*_chosen_ids(demande), *_added()},
        owners=owner_names(db(), demande.foyer_id),
        service=family_views.first_service_name(db(), definition),
    )


def _add_page(demande: Demande, required: RequiredDocument) -> str:
    """The vault's add page for a missing document, the ticks so far kept in the draft: it
    knows the type and, for a child's document, the child the demande is about."""
    return url_for(
        "famille.ajouter",
        type=required.type,
        membre=_child_id(demande) if required.member == "child" else None,
        retour=url_for("famille.demande_justificatifs", demande_id=demande.id),
    )


def _added() -> list[int]:
    """The document just deposited from the request's page (?ajoute=), to show it ticked."""
    added = request.args.get("ajoute", type=int)
    return [added] if added is not None else []


def _summary(demande: Demande, definition: Any, problems: list[str] | None = None) -> str:
    """The recap; what would stop the submission is worked out as `submit` does, unless
    given (the refused submission's own problems)."""
    ids = _chosen_ids(demande)
    documents = [d for d in family_views.current_documents(db(), demande.foyer_id) if d.id in ids]
    if problems is None:
        problems = demandes.problems_before_submit(
            db(), runtime().engine_context, _actor(), demande.id, _form_values(demande),
            [d.id for d in documents],  # a document deleted since it was ticked is missing
        )  # fmt: skip
    children = {str(c.id): f"{c.first_name} {c.last_name}" for c in _children()}
    return render_template(
        "famille/demande_recapitulatif.html",
        demande=demande,
        definition=definition,
        values=_form_values(demande),
        children=children,
        documents=documents,
        type_label=lambda code: document_type(code).label,
        owners=owner_names(db(), demande.foyer_id),
        problems=problems,
    )


@bp.get("/demandes/<int:demande_id>/recapitulatif")
@role_required(Role.FAMILLE)
def demande_recapitulatif(demande_id: int) -> str:
    demande, definition = _draft(demande_id)
    return _summary(demande, definition)


@bp.post("/demandes/<int:demande_id>/deposer")
@role_required(Role.FAMILLE)
def demande_deposer(demande_id: int) -> str | tuple[str, int] | BaseResponse:
    demande, definition = _draft(demande_id)
    form, ids = _form_values(demande), _chosen_ids(demande)
    try:
        demandes.submit(db(), runtime().engine_context, _actor(), demande_id, form, ids)
    except Incomplete as exc:
        db().rollback()
        demande, definition = _draft(demande_id)
        return _summary(demande, definition, exc.problems), 422
    return redirect(url_for("famille.demande_confirmation", demande_id=demande_id), 303)


@bp.get("/demandes/<int:demande_id>/confirmation")
@role_required(Role.FAMILLE)
def demande_confirmation(demande_id: int) -> str:
    demande = demandes.family_demande(db(), _actor(), demande_id)
    if demande.number is None:
        abort(404)
    version = version_of(db(), demande)
    return render_template("famille/demande_confirmation.html", demande=demande, version=version)


@bp.get("/demandes")
@role_required(Role.FAMILLE)
def mes_demandes() -> str:
    rows = family_views.demandes_of(db(), _actor().foyer_id)
    return render_template("famille/demandes.html", rows=rows, labels=status_labels())


@bp.get("/demandes/<int:demande_id>")
@role_required(Role.FAMILLE)
def demande(demande_id: int) -> str:
    actor = _actor()
    found = demandes.family_demande(db(), actor, demande_id)
    version = version_of(db(), found)
    definition = definition_of(version)
    family_task = family_views.family_task(db(), found.id)
    choices = definition.task(family_task.spec_id).form if family_task else ()
    service = family_views.first_service(db(), definition)
    return render_template(
        "famille/demande.html",
        demande=found,
        version=version,
        labels=status_labels(),
        history=family_views.public_history(db(), found.id),
        timeline=family_views.family_timeline(db(), found, runtime().engine_context.calendar),
        steps=family_views.live_tasks(db(), found.id),
        shared=family_views.shared_documents(db(), found.id),
        issued=family_views.town_documents(db(), actor.foyer_id, found.number),
        teams=family_shares(db(), actor, found.id, local_today(runtime().clock)),
        vault=family_views.documents_to_offer(db(), actor.foyer_id, found.id),
        added=_added(),
        owners=owner_names(db(), actor.foyer_id),
        family_task=family_task,
        task_fields=choices,
        is_open=found.status in OPEN_STATUSES,
        type_label=lambda code: document_type(code).label,
        refusal_text=refusal_text,
        service=service.name if service is not None else definition.title,
        service_id=service.id if service is not None else None,
        by_rules=family_views.refused_by_rules(db(), found),
        answers=form_lines(found, version, foyer_members(db(), actor.foyer_id)),
    )


@bp.post("/demandes/<int:demande_id>/repondre")
@role_required(Role.FAMILLE)
def demande_repondre(demande_id: int) -> BaseResponse:
    ids = [int(v) for v in request.form.getlist("partage") if v.isdigit()]
    message = request.form.get("message", "")
    demandes.answer(db(), runtime().engine_context, _actor(), demande_id, message, ids)
    flash(_("Your answer has been sent."), "info")
    return redirect(url_for("famille.demande", demande_id=demande_id), 303)


@bp.post("/demandes/<int:demande_id>/etape/<int:task_id>")
@role_required(Role.FAMILLE)
def demande_etape(demande_id: int, task_id: int) -> BaseResponse:
    actor = _actor()
    found = demandes.family_demande(db(), actor, demande_id)
    task = family_views.family_task(db(), found.id)
    if task is None or task.id != task_id:
        raise DemandeNotFound(f"task {task_id} is not a family task of demande {demande_id}")
    form = {key: value for key, value in request.form.items() if key != "csrf_token"}
    tasks.complete_for_family(db(), runtime().engine_context, actor, task_id, form)
    flash(_("Your answer has been recorded."), "info")
    return redirect(url_for("famille.demande", demande_id=demande_id), 303)


@bp.post("/demandes/<int:demande_id>/annuler")
@role_required(Role.FAMILLE)
def demande_annuler(demande_id: int) -> BaseResponse:
    demandes.cancel(db(), runtime().engine_context, _actor(), demande_id)
    flash(_("Your request has been cancelled."), "info")
    return redirect(url_for("famille.demande", demande_id=demande_id), 303)


@bp.post("/demandes/<int:demande_id>/documents/<int:document_id>/retirer")
@role_required(Role.FAMILLE)
def demande_retirer(demande_id: int, document_id: int) -> BaseResponse:
    withdrawal.withdraw_consent(db(), runtime().engine_context, _actor(), demande_id, document_id)
    flash(_("Your consent has been withdrawn."), "info")
    return redirect(url_for("famille.demande", demande_id=demande_id), 303)


def _field_value(field: FormField) -> str:
    """What the form sent for a field; several children as their ids joined by commas."""
    if field.type == "children":
        return ",".join(value for value in request.form.getlist(field.name) if value.isdigit())
    return request.form.get(field.name, "")
