"""A test run of a draft: a throwaway demande walked through with sample answers, in memory.

Nothing is stored and no operation runs (service tasks answer nothing, no e-mail leaves):
the administrator sees, before publishing, which lane and which service each human task of
the draft lands in, and which end the sample answers reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Service
from notifications.templates import date_fr
from procedures import catalogue
from procedures.bpmn import engine
from procedures.bpmn.diagrams import engine_message
from procedures.definitions import FAMILY_LANE, Definition, FormField, load_definition
from procedures.designer.publication import DraftInvalid, open_draft
from procedures.forms import choice_label, number_text

MAX_STEPS = 40
SAMPLES = {"text": "exemple", "date": "2027-01-04", "number": 1.0, "boolean": True, "child": 1}
# The final statuses an end maps to, as the administrator reads them.
STATUS_WORDS = {
    "acceptee": "acceptée",
    "refusee": "refusée",
    "classee": "classée sans suite",
    "annulee": "annulée",
}


@dataclass(frozen=True)
class TrialStep:
    """One human task the run met: where it lands and the sample answers it was given."""

    spec_id: str
    name: str
    lane: str | None
    handled_by: str
    answers: dict[str, Any]
    # The sample answers as the administrator reads them: (field's label, value in French).
    shown: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TrialRun:
    steps: list[TrialStep]
    end: str | None  # the end event reached, if any
    status: str | None  # the demande's final status that end maps to
    stopped: str = ""  # why the run stopped before an end, in French
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)  # what `answers` may pick
    end_name: str = ""  # the end event's name in the diagram (its id if it has none)
    # The choice fields `choices` lists, for their labels and their choices' labels.
    choice_fields: dict[str, FormField] = field(default_factory=dict)

    @property
    def status_label(self) -> str:
        """The final status in French."""
        return STATUS_WORDS.get(self.status or "", self.status or "")


def trial_run(session: Session, code: str, answers: Mapping[str, str]) -> TrialRun:
    """Run the procedure's draft (or current version) with sample data, in memory only.

    `answers` picks the value of choice fields by name (first choice otherwise). The whole
    run has one run's budget: a draft that spends more raises ScriptBudgetExceeded.
    """
    draft = open_draft(session, code)
    if draft.problems:
        raise DraftInvalid(draft.problems)
    definition = load_definition(draft.metadata_toml)
    diagram = catalogue.check(
        definition, draft.bpmn_xml.encode("utf-8"), draft.dmn_xml.encode("utf-8")
    )
    rows = session.execute(select(Service.code, Service.name)).all()
    services = {str(code): str(name) for code, name in rows}
    data = _sample(definition.fields, answers) | {"demande_id": 0}
    script_engine = engine.OperationScriptEngine(lambda _name, _params, _task: {})
    steps: list[TrialStep] = []
    try:
        workflow = engine.start(diagram, data, script_engine)
        while len(steps) < MAX_STEPS:
            ready = engine.ready_tasks(workflow)
            if not ready:
                break
            task = ready[0]
            given = _sample(definition.task(task.spec_id).form, answers)
            steps.append(_step(definition, services, task, given))
            engine.complete(workflow, task.id, given)
    except (SpiffWorkflowException, engine.EngineError) as exc:
        if isinstance(exc, SpiffWorkflowException):
            reason = engine_message(exc)
        elif isinstance(exc, engine.DiagramFault):
            reason = f"« {exc.element} » : {exc.reason}"
        else:
            reason = _first_line(exc)
        return TrialRun(steps, None, None, f"la simulation s'arrête : {reason}",
                        _choices(definition), choice_fields=_choice_fields(definition))  # fmt: skip
    end = engine.end_reached(workflow)
    stopped = "" if end else "la demande attend un délai ou un message : fin de la simulation"
    status = definition.ends.get(end, "classee") if end else None
    return TrialRun(
        steps, end, status, stopped, _choices(definition),
        end_name=_end_name(workflow, end) if end else "",
        choice_fields=_choice_fields(definition),
    )  # fmt: skip


def _end_name(workflow: Any, end: str) -> str:
    for spec in workflow.spec.task_specs.values():
        if getattr(spec, "bpmn_id", None) == end:
            return str(getattr(spec, "bpmn_name", None) or end)
    return end


def _sample(fields: tuple[FormField, ...], answers: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in fields:
        if item.type == "choice":
            picked = answers.get(item.name, "")
            values[item.name] = picked if picked in item.choices else item.choices[0]
        else:
            values[item.name] = SAMPLES.get(item.type, "exemple")
    return values


def _step(
    definition: Definition, services: dict[str, str], task: engine.ReadyTask, given: dict[str, Any]
) -> TrialStep:
    target = definition.lanes.get(task.lane or "", "")
    if target == FAMILY_LANE:
        handled_by = "la famille"
    else:
        handled_by = services.get(target, f"service inconnu « {target} »")
    form = definition.task(task.spec_id).form
    shown = tuple((item.label, _shown(item, given.get(item.name))) for item in form)
    return TrialStep(task.spec_id, task.name, task.lane, handled_by, given, shown)


def _shown(item: FormField, value: Any) -> str:
    """A sample answer in French: a choice by its label, a date as written, oui or non."""
    if item.type == "choice":
        return choice_label(item, value)
    if item.type == "boolean":
        return "oui" if value else "non"
    if item.type == "number":
        return number_text(value)
    if item.type == "date":
        return date_fr(date.fromisoformat(str(value)))
    if item.type in ("child", "children"):
        return "un enfant du foyer"
    return str(value)


def _choice_fields(definition: Definition) -> dict[str, FormField]:
    forms = [definition.fields] + [settings.form for settings in definition.tasks.values()]
    return {item.name: item for form in forms for item in form if item.type == "choice"}


def _choices(definition: Definition) -> dict[str, tuple[str, ...]]:
    forms = [definition.fields] + [settings.form for settings in definition.tasks.values()]
    return {item.name: item.choices for form in forms for item in form if item.type == "choice"}


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]
