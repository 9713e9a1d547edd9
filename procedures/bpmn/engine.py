"""SpiffWorkflow, wrapped: start a diagram, persist and restore it, run its human tasks.

Every expression and script of a diagram goes through the restricted evaluator
(`procedures.bpmn.expressions.RestrictedScriptEngine`), never through Python's eval, within the
budget of the run (one script engine per run). Service tasks call named operations from a
registry in code: the diagram only names them.

A saved workflow holds its own state only (tasks, data, events) and names its diagram by
the SHA-256 of the BPMN source; the process spec is the one parsed once per published
version (`catalogue.diagram_of`), never copied into each demande nor rebuilt at each step.
States saved whole by earlier releases (the spec inside) are still read.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent, EndEvent
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState as SpiffState

from procedures.bpmn import timers
from procedures.bpmn.diagrams import Diagram, engine_message
from procedures.bpmn.expressions import RestrictedScriptEngine

# An operation's dispatcher: (operation name, evaluated parameters, SpiffWorkflow task) -> result.
Dispatch = Callable[[str, Mapping[str, Any], Any], Mapping[str, Any]]
# The key of a saved state naming its diagram; a state without it has its spec inside.
SPEC_KEY = "spec_sha256"

# The diagrams this process has started or restored workflows on, by source digest, and the
# digest of each of their specs: weak, so they live as long as the catalogue's cache or a
# workflow holds them.
_DIAGRAMS: weakref.WeakValueDictionary[str, Diagram] = weakref.WeakValueDictionary()
_DIGESTS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


class EngineError(Exception):
    """The workflow cannot do what was asked (no such ready task, broken state)."""


class DiagramFault(EngineError):
    """A run stopped on a fault of the diagram for these answers (no condition true, a
    script naming an unknown answer…): `element` names the element (its name, else its id),
    `reason` says why in French (SpiffWorkflow's message translated; never the data)."""

    def __init__(self, element: str, element_id: str, reason: str) -> None:
        super().__init__(f"{element_id}: {reason}")
        self.element, self.element_id, self.reason = element, element_id, reason


@contextmanager
def diagram_faults() -> Iterator[None]:
    """SpiffWorkflow's errors while running become DiagramFault (ScriptBudgetExceeded, ours,
    passes through)."""
    try:
        yield
    except SpiffWorkflowException as exc:
        task = getattr(exc, "task", None)
        spec = getattr(exc, "task_spec", None) or getattr(task, "task_spec", None)
        element_id = str(getattr(spec, "bpmn_id", None) or getattr(spec, "name", "") or "")
        element = str(getattr(spec, "bpmn_name", None) or element_id)
        raise DiagramFault(element, element_id, engine_message(exc)) from exc


class _StateConverter(BpmnWorkflowConverter):
    """A top workflow saved without its specs, which its diagram's digest stands for.

    Restoring is SpiffWorkflow's own: given spec objects instead of dictionaries in the
    `spec` and `subprocess_specs` entries, the registry passes them through unchanged.
    """

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        digest = _DIGESTS.get(workflow.spec)
        if digest is None:
            raise EngineError("the workflow's diagram is unknown: start or restore it on one")
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        dct[SPEC_KEY] = digest
        return dct


# Our clocked timers travel in saved states too (an event-based gateway keeps the events it
# saw): converted as SpiffWorkflow's own, under their own names.
_CLOCKED_TIMERS = {clocked: SPIFF_CONFIG[base] for base, clocked in timers.CLOCKED.items()}
_SERIALIZER = BpmnWorkflowSerializer(
    BpmnWorkflowSerializer.configure(
        SPIFF_CONFIG | _CLOCKED_TIMERS | {BpmnWorkflow: _StateConverter}
    )
)


class OperationScriptEngine(RestrictedScriptEngine):
    """The restricted engine, whose service tasks call one of our named operations."""

    def __init__(
        self,
        dispatch: Dispatch,
        *,
        clock: Callable[[], datetime] | None = None,
        working_days: Callable[[datetime, int], datetime] | None = None,
    ) -> None:
        super().__init__(clock=clock, working_days=working_days)
        self._dispatch = dispatch

    def call_service(self, task: Any, **kwargs: Any) -> str:
        params = {name: spec["value"] for name, spec in kwargs["operation_params"].items()}
        return json.dumps(dict(self._dispatch(kwargs["operation_name"], params, task)))


@dataclass(frozen=True)
class ReadyTask:
    """A human task waiting for someone: its id in the workflow, spec id, name and lane."""

    id: str
    spec_id: str
    name: str
    lane: str | None


def start(
    diagram: Diagram, data: Mapping[str, Any], engine: RestrictedScriptEngine
) -> BpmnWorkflow:
    """A new workflow with the demande's data, run up to its first waiting point."""
    _remember(diagram)
    workflow = BpmnWorkflow(diagram.spec, diagram.subprocess_specs, script_engine=engine)
    workflow.data.update(data)
    start_task = workflow.get_next_task(state=SpiffState.READY)
    if start_task is not None:
        start_task.data.update(data)
    _run_engine_tasks(workflow)
    return workflow


def dump(workflow: BpmnWorkflow) -> str:
    """The workflow's own state as JSON, naming its diagram (the spec is not copied)."""
    return str(_SERIALIZER.serialize_json(workflow))


def restore(
    state: str, engine: RestrictedScriptEngine, diagram: Diagram | None = None
) -> BpmnWorkflow:
    """A workflow from `dump` on `diagram`, with our script engine.

    Without `diagram`, the one the state names, if this process has run it. A state saved
    whole by earlier releases is read too: on `diagram`'s spec when given (it must have the
    same tasks), else on the spec inside it.
    """
    if not isinstance(engine, RestrictedScriptEngine):
        raise TypeError("a workflow runs only under the restricted script engine")
    dct = json.loads(state)
    if SPEC_KEY in dct:
        _on_named_diagram(dct, diagram)
    else:
        _SERIALIZER.migrate(dct)
        if diagram is not None:
            _on_given_diagram(dct, diagram)
    workflow = _SERIALIZER.from_dict(dct)
    workflow.script_engine = engine
    return workflow


def _remember(diagram: Diagram) -> None:
    _DIAGRAMS[diagram.source_sha256] = diagram
    _DIGESTS[diagram.spec] = diagram.source_sha256


def _on_named_diagram(dct: dict[str, Any], diagram: Diagram | None) -> None:
    """Put the spec of the diagram a state names in place of its digest."""
    digest = dct.pop(SPEC_KEY)
    version = dct.pop(_SERIALIZER.VERSION_KEY, None)
    if version != _SERIALIZER.VERSION:
        # SpiffWorkflow's migrations rewrite specs too: a state without one is not migrated.
        raise EngineError(f"workflow saved by serializer {version}, not {_SERIALIZER.VERSION}")
    if diagram is None:
        diagram = _DIAGRAMS.get(digest)
        if diagram is None:
            raise EngineError("the workflow's diagram is not loaded: restore it on its diagram")
    elif diagram.source_sha256 != digest:
        raise EngineError("the workflow was saved on another diagram")
    _place_spec(dct, diagram)


def _on_given_diagram(dct: dict[str, Any], diagram: Diagram) -> None:
    """Put the diagram's spec in place of the copy a state saved whole carries."""
    copied = dct["spec"]
    same_tasks = set(copied["task_specs"]) == set(diagram.spec.task_specs)
    if copied["name"] != diagram.spec.name or not same_tasks:
        raise EngineError("the workflow was saved on another diagram")
    _place_spec(dct, diagram)


def _place_spec(dct: dict[str, Any], diagram: Diagram) -> None:
    _remember(diagram)
    dct["spec"] = diagram.spec
    dct["subprocess_specs"] = diagram.subprocess_specs


def ready_tasks(workflow: BpmnWorkflow) -> list[ReadyTask]:
    """What waits for someone now: the ready human tasks, and the message catches (receive
    tasks, message events, those after an event-based gateway) that someone answers.

    A task inside a sub-process or a called procedure without lanes takes the lane of the
    activity that runs it; an instance of a multi-instance task is named after its item.
    """
    found = [
        ReadyTask(
            id=str(task.id),
            spec_id=task.task_spec.bpmn_id,
            name=_task_name(task),
            lane=_lane_of(task),
        )
        for task in workflow.get_tasks(state=SpiffState.READY, manual=True)
    ]
    for task in workflow.get_tasks(state=SpiffState.WAITING):
        awaited = _awaited_message(task)
        if awaited is not None:
            spec = awaited[1]
            name = str(spec.bpmn_name or spec.bpmn_id)
            lane = spec.lane or _lane_of(task)
            found.append(ReadyTask(str(task.id), spec.bpmn_id, name, lane))
    return found


def _awaited_message(task: Any) -> tuple[MessageEventDefinition, Any] | None:
    """The message a waiting task waits for, and the element that catches it: a receive
    task or message catch event, or the message branch of an event-based gateway."""
    spec = task.task_spec
    definition = getattr(spec, "event_definition", None)
    if isinstance(spec, EventBasedGateway):
        for index, item in enumerate(spec.event_definition.event_definitions):
            if isinstance(item, MessageEventDefinition):
                return item, spec.outputs[index]
        return None
    waits_here = isinstance(spec, CatchingEvent) and not isinstance(spec, BoundaryEvent)
    if isinstance(definition, MessageEventDefinition) and waits_here:
        return definition, spec
    return None


def _lane_of(task: Any) -> str | None:
    while task is not None:
        if task.task_spec.lane:
            return str(task.task_spec.lane)
        task = _caller(task)
    return None


def _caller(task: Any) -> Any:
    """The task that runs the (sub)workflow `task` belongs to (None at the top)."""
    workflow = task.workflow
    parent_id = getattr(workflow, "parent_task_id", None)
    if parent_id is None:
        return None
    return workflow.top_workflow.get_task_from_id(parent_id)


def _task_name(task: Any) -> str:
    name = str(task.task_spec.bpmn_name or task.task_spec.bpmn_id)
    item_name = getattr(task.task_spec, "input_item", None)
    parent = task.parent
    loop = getattr(parent.task_spec, "input_item", None) if parent is not None else None
    variable = getattr(item_name or loop, "bpmn_id", None)
    item = task.data.get(variable) if variable else None
    label = _item_label(item)
    return f"{name} — {label}" if label else name


def _item_label(item: Any) -> str:
    if isinstance(item, str | int):
        return str(item)[:80]
    if isinstance(item, Mapping):
        for key in ("prenom", "nom", "name", "label", "libelle"):
            if isinstance(item.get(key), str | int):
                return str(item[key])[:80]
    return ""


def complete(workflow: BpmnWorkflow, task_id: str, data: Mapping[str, Any]) -> None:
    """Complete one ready human task with its form data (or answer a waiting message catch
    with it), then run the engine on."""
    try:
        task = workflow.get_task_from_id(UUID(task_id))
    except Exception:
        raise EngineError(f"task {task_id} is not in this workflow") from None
    awaited = _awaited_message(task) if task.state == SpiffState.WAITING else None
    if awaited is not None:
        try:
            workflow.send_event(BpmnEvent(awaited[0], payload=dict(data)))
        except WorkflowException:
            raise EngineError(f"task {task_id} no longer waits for a message") from None
        _run_engine_tasks(workflow)
        return
    if task.state != SpiffState.READY or not task.task_spec.manual:
        raise EngineError(f"task {task_id} is not a ready human task")
    task.data.update(data)
    task.run()
    _run_engine_tasks(workflow)


def wake(workflow: BpmnWorkflow) -> None:
    """Let the timers due by the run's clock fire, then run the engine on."""
    workflow.refresh_timers()
    _run_engine_tasks(workflow)


def _run_engine_tasks(workflow: BpmnWorkflow) -> None:
    """Run the gateways, scripts and events up to the next wait, each paid from the run's
    budget: a diagram that loops on itself (or forks without end) stops there."""
    script_engine: RestrictedScriptEngine = workflow.script_engine
    workflow.do_engine_steps(will_complete_task=script_engine.run_task)


def messages_sent(workflow: BpmnWorkflow) -> list[str]:
    """The names of the messages the workflow sent that none of its own events caught: to
    a pool standing for the family or a partner (kept in the demande's history)."""
    return [
        str(event.event_definition.name)
        for event in workflow.get_events()
        if isinstance(event.event_definition, MessageEventDefinition)
    ]


def end_reached(workflow: BpmnWorkflow) -> str | None:
    """The id of the end event the top process finished on, when it is complete."""
    if not workflow.is_completed():
        return None
    ends = workflow.get_tasks(state=SpiffState.COMPLETED, spec_class=EndEvent)
    top = [task for task in ends if task.workflow is workflow]
    # The last one reached: a non-interrupting branch (a reminder) may end before the main path.
    last = _last_changed(top)
    return str(last.task_spec.bpmn_id) if last is not None else None


def data_of(workflow: BpmnWorkflow) -> dict[str, Any]:
    """The data of the workflow's latest completed task (what the diagram knows now)."""
    done = workflow.get_tasks(state=SpiffState.COMPLETED)
    # The one completed last (tree order puts a reminder's branch after the main path).
    last = _last_changed(done)
    return dict(last.data) if last is not None else dict(workflow.data)


def _last_changed(tasks: list[Any]) -> Any:
    """The task whose state changed last; on a tie, the later in tree order."""
    if not tasks:
        return None
    return max(enumerate(tasks), key=lambda pair: (pair[1].last_state_change, pair[0]))[1]
