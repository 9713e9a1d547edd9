"""A test run of a draft: a throwaway demande walked through with sample answers, in memory.

Nothing is stored and no operation runs (service tasks answer nothing, no e-mail leaves):
the administrator sees, before publishing, which lane and which service each human task of
the draft lands in, and which end the sample answers reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Service
from procedures import catalogue
from procedures.bpmn import engine
from procedures.bpmn.diagrams import engine_message
from procedures.definitions import FAMILY_LANE, Definition, FormField, load_definition
from procedures.designer.publication import DraftInvalid, open_draft

MAX_STEPS = 40
SAMPLES = {"text": "exemple", "date": "2027-01-04", "number": 1.0, "boolean": True, "child": 1}


@dataclass(frozen=True)
class TrialStep:
    """One human task the run met: where it lands and the sample answers it was given."""

    spec_id: str
    name: str
    lane: str | None
    handled_by: str
    answers: dict[str, Any]


@dataclass(frozen=True)
class TrialRun:
    steps: list[TrialStep]
    end: str | None  # the end event reached, if any
    status: str | None  # the demande's final status that end maps to
    stopped: str = ""  # why the run stopped before an end, in French
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)  # what `answers` may pick


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
        reason = (
            engine_message(exc) if isinstance(exc, SpiffWorkflowException) else _first_line(exc)
        )
        return TrialRun(steps, None, None, f"la simulation s'arrête : {reason}",
                        _choices(definition))  # fmt: skip
    end = engine.end_reached(workflow)
    stopped = "" if end else "la demande attend un délai ou un message : fin de la simulation"
    status = definition.ends.get(end, "classee") if end else None
    return TrialRun(steps, end, status, stopped, _choices(definition))


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
    return TrialStep(task.spec_id, task.name, task.lane, handled_by, given)


def _choices(definition: Definition) -> dict[str, tuple[str, ...]]:
    forms = [definition.fields] + [settings.form for settings in definition.tasks.values()]
    return {item.name: item.choices for form in forms for item in form if item.type == "choice"}


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]
