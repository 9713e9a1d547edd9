"""Agent pages: reviewing a demande, its granted documents, and acting on its current task.

Every form carries the row version of what it acts on; a stale one (another agent acted
first) shows the page as it is now with a message, and nothing is applied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from procedures import agent_actions, agent_views
from procedures.agent_actions import DemandeAsShown, TaskAsShown
from procedures.errors import Incomplete, NotByHand, TaskConflict
from procedures.forms import choice_label
from procedures.models import DemandeStatus
from reservations import bookings, holidays
from web.agent.blueprint import agent_actor, bp
from web.auth.guard import role_required
from web.runtime import db, runtime

Page = tuple[str, int]
# What the agent typed in a form of the page, to show again when it is refused; the key
# names the form and its task ("terminer-12").
Typed = Mapping[str, Mapping[str, str | Sequence[str]]]

# The family's pages show the procedures' choices through it too.
bp.add_app_template_global(choice_label, "choice_label")


def status_labels() -> dict[str, str]:
    """The demande's status as agents name it."""
    return {
        DemandeStatus.BROUILLON: _("Draft"),
        DemandeStatus.DEPOSEE: _("Submitted"),
        DemandeStatus.EN_INSTRUCTION: _("Being processed"),
        DemandeStatus.EN_ATTENTE_FAMILLE: _("Waiting for the family"),
        DemandeStatus.ACCEPTEE: _("Accepted"),
        DemandeStatus.REFUSEE: _("Refused"),
        DemandeStatus.CLASSEE: _("Closed"),
        DemandeStatus.ANNULEE: _("Cancelled"),
    }


def event_labels() -> dict[str, str]:
    """One line of history, as agents read it."""
    return {
        "submitted": _("The family submitted the request."),
        "cancelled": _("The family cancelled the request."),
        "claimed": _("Processing started."),
        "task_completed": _("A step was completed."),
        "asked_family": _("The family was asked for information."),
        "family_answered": _("The family answered."),
        "timeout": _("The time allowed for a step ran out."),
        "decision": _("The request reached its end."),
        "escalated": _("A late step was escalated to the supervisors."),
        "internal_note": _("Internal note."),
        "agent_message": _("Message to the family."),
        "document_validated": _("Document marked valid."),
        "document_refused": _("Document marked not valid."),
        "document_withdrawn": _("The family withdrew a document from this request."),
        "quotient_enregistre": _("Family quotient recorded."),
        "transport_etudie": _("Distance from home to school measured."),
        "pai_ecole": _("The child's school found."),
        "pai_partage": _("Care plan shared with the school's teams."),
        "situation_lue": _("Change of situation read: what it will update."),
        "situation_reported": _("A checked change of situation of the household was carried here."),
        "derogation_preparee": _("Schools and commission date noted."),
        "commission_prevue": _("Commission date given to the family."),
        "directeurs_informes": _("Decision sent to the schools' directors."),
        "adresse_relevee": _("Household's address noted."),
        "ecole_proposee": _("School of the catchment area proposed."),
        "ecole_retenue": _("School kept, written on the child's file."),
        "vacances_reservees": _("Holiday days booked."),
        "retention_applied": _("Retention period over: answers and history erased."),
    }


def outcome_labels() -> dict[str, str]:
    """Labels for versions published before their choices had one; the declared label wins."""
    return {
        "place": _("Offer a place"),
        "attente": _("Put on the waiting list"),
        "refus": _("Refuse"),
        "refuser": _("Refuse"),
        "valider": _("Approve"),
        "delivrer": _("Issue the certificate"),
        "acceptee": _("Accepted"),
        "refusee": _("Refused"),
    }


@dataclass(frozen=True)
class CompleterNotice:
    """What the agent reads of a step no agent completes by hand, and where it is done."""

    text: str
    link_text: str = ""
    url: str = ""


@bp.app_template_global()
def completer_notice(completer: str) -> CompleterNotice:
    """The notice shown instead of a step's forms when it has `completed_by`."""
    if completer == "tirage":
        return CompleterNotice(
            _(
                "This step is carried out from the « Course draws » page, for every request "
                "of the course at once: the allocation of the places (by lottery when there "
                "are more requests than places), withdrawals and the closing of the waiting "
                "list. It cannot be taken or completed by hand, which would bypass the draw."
            ),
            _("Course draws"),
            url_for("agent.tirages"),
        )
    return CompleterNotice(
        _("This step is carried out automatically: it cannot be taken or completed by hand.")
    )


def conflict_message() -> str:
    return _(
        "Another agent changed this request in the meantime. The page below shows it as it "
        "is now: check it before acting again. Nothing was recorded."
    )


def render_demande(
    demande_id: int,
    status: int = 200,
    alert: str | None = None,
    problems: list[str] | None = None,
    typed: Typed | None = None,
) -> Page:
    """The review page as the database holds it now, with what the agent typed, if refused."""
    view = agent_views.demande_view(db(), agent_actor(), demande_id, runtime().clock.now())
    page = render_template(
        "agent/demande.html",
        view=view,
        statuses=status_labels(),
        events=event_labels(),
        outcomes=outcome_labels(),
        alert=alert,
        problems=problems or [],
        typed=typed or {},
        holiday_weeks=holiday_weeks(view),
    )
    return page, status


def holiday_weeks(view: agent_views.AgentDemandeView) -> list[holidays.Week]:
    """A holiday-centre registration's weeks as the booking rules see them now (the agent
    validates with the places left in view); nothing for other procedures or once closed."""
    if view.version.code != holidays.CODE or view.demande.closed_at is not None:
        return []
    context = bookings.Context(clock=runtime().clock, calendar=runtime().engine_context.calendar)
    return holidays.study(db(), context, view.demande)


def acted(
    done: str, act: Callable[[], object], redisplay: Callable[..., Page], target: str
) -> Page | BaseResponse:
    """Run one service call; on a conflict or a refused form, show the fresh page instead."""
    try:
        act()
    except TaskConflict:
        db().rollback()
        return redisplay(status=409, alert=conflict_message())
    except NotByHand as exc:
        db().rollback()
        return redisplay(status=403, problems=[completer_notice(exc.completer).text])
    except Incomplete as exc:
        db().rollback()
        return redisplay(status=422, problems=exc.problems)
    flash(done, "info")
    return redirect(target, 303)


@bp.before_request
def _handled_demande_first() -> None:
    """Another service's demande is "not found" before any form is read: no 400 confirms it."""
    demande_id = (request.view_args or {}).get("demande_id")
    if demande_id is None or not current_user.is_authenticated:
        return
    if current_user.role is Role.AGENT:
        agent_views.agent_demande(db(), agent_actor(), demande_id)


def posted_version() -> int:
    raw = request.form.get("version", "")
    if not raw.isdigit():
        abort(400)
    return int(raw)


@bp.get("/demandes/<int:demande_id>")
@role_required(Role.AGENT)
def demande(demande_id: int) -> Page:
    return render_demande(demande_id)


def _task_act(
    demande_id: int,
    task_id: int,
    done: str,
    act: Callable[[TaskAsShown], object],
    typed: Typed | None = None,
) -> Page | BaseResponse:
    shown = TaskAsShown(demande_id, task_id, posted_version())
    return acted(
        done,
        lambda: act(shown),
        lambda **kw: render_demande(demande_id, typed=typed, **kw),
        url_for("agent.demande", demande_id=demande_id),
    )


@bp.post("/demandes/<int:demande_id>/taches/<int:task_id>/prendre")
@role_required(Role.AGENT)
def demande_prendre(demande_id: int, task_id: int) -> Page | BaseResponse:
    return _task_act(
        demande_id,
        task_id,
        _("You now hold this step."),
        lambda shown: agent_actions.claim(db(), runtime().engine_context, agent_actor(), shown),
    )


@bp.post("/demandes/<int:demande_id>/taches/<int:task_id>/liberer")
@role_required(Role.AGENT)
def demande_liberer(demande_id: int, task_id: int) -> Page | BaseResponse:
    return _task_act(
        demande_id,
        task_id,
        _("The step is back in the service's queue."),
        lambda shown: agent_actions.release(db(), runtime().engine_context, agent_actor(), shown),
    )


@bp.post("/demandes/<int:demande_id>/taches/<int:task_id>/terminer")
@role_required(Role.AGENT)
def demande_terminer(demande_id: int, task_id: int) -> Page | BaseResponse:
    reserved = {"csrf_token", "version", "commentaire"}
    form = {key: value for key, value in request.form.items() if key not in reserved}
    note = request.form.get("commentaire", "")
    return _task_act(
        demande_id,
        task_id,
        _("The step is completed."),
        lambda shown: agent_actions.complete(
            db(), runtime().engine_context, agent_actor(), shown, form, note
        ),
        typed={f"terminer-{task_id}": {**form, "commentaire": note}},
    )


@bp.post("/demandes/<int:demande_id>/taches/<int:task_id>/demander")
@role_required(Role.AGENT)
def demande_demander(demande_id: int, task_id: int) -> Page | BaseResponse:
    message = request.form.get("message", "")
    types = request.form.getlist("justificatif")
    return _task_act(
        demande_id,
        task_id,
        _("The family has been asked; the request waits for its answer."),
        lambda shown: agent_actions.ask_family(
            db(), runtime().engine_context, agent_actor(), shown, message, types
        ),
        typed={f"demander-{task_id}": {"message": message, "justificatif": types}},
    )


@bp.post("/demandes/<int:demande_id>/commentaires")
@role_required(Role.AGENT)
def demande_commenter(demande_id: int) -> Page | BaseResponse:
    shown = DemandeAsShown(demande_id, posted_version())
    internal = request.form.get("destinataire", "interne") != "famille"
    text = request.form.get("texte", "")
    return acted(
        _("Your internal note is recorded.") if internal else _("Your message has been sent."),
        lambda: agent_actions.comment(
            db(), runtime().engine_context, agent_actor(), shown, text, internal=internal
        ),
        lambda **kw: render_demande(demande_id, **kw),
        url_for("agent.demande", demande_id=demande_id),
    )


# The granted documents' routes register on `bp` too when imported.
