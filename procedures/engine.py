"""SpiffWorkflow, wrapped: start a diagram, persist and restore it, run its human tasks.

Every expression and script of a diagram goes through the restricted evaluator
(`procedures.expressions.RestrictedScriptEngine`), never through Python's eval. Service
tasks call named operations from a registry in code: the diagram only names them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState as SpiffState

from procedures.diagrams import Diagram
from procedures.expressions import RestrictedScriptEngine

# An operation's dispatcher: (operation name, evaluated parameters, SpiffWorkflow task) -> result.
Dispatch = Callable[[str, Mapping[str, Any], Any], Mapping[str, Any]]
_SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))


class EngineError(Exception):
    """The workflow cannot do what was asked (no such ready task, broken state)."""


class OperationScriptEngine(RestrictedScriptEngine):
    """The restricted engine, whose service tasks call one of our named operations."""

    def __init__(self, dispatch: Dispatch) -> None:
        super().__init__()
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
    workflow = BpmnWorkflow(diagram.spec, diagram.subprocess_specs, script_engine=engine)
    workflow.data.update(data)
    start_task = workflow.get_next_task(state=SpiffState.READY)
    if start_task is not None:
        start_task.data.update(data)
    workflow.do_engine_steps()
    return workflow


def dump(workflow: BpmnWorkflow) -> str:
    """The workflow's whole state (spec included) as JSON."""
    return str(_SERIALIZER.serialize_json(workflow))


def restore(state: str, engine: RestrictedScriptEngine) -> BpmnWorkflow:
    """A workflow from `dump`, with our script engine."""
    workflow = _SERIALIZER.deserialize_json(state)
    workflow.script_engine = engine
    return workflow


def ready_tasks(workflow: BpmnWorkflow) -> list[ReadyTask]:
    """The human tasks that are ready now."""
    return [
        ReadyTask(
            id=str(task.id),
            spec_id=task.task_spec.bpmn_id,
            name=task.task_spec.bpmn_name or task.task_spec.bpmn_id,
            lane=task.task_spec.lane,
        )
        for task in workflow.get_tasks(state=SpiffState.READY, manual=True)
    ]


def complete(workflow: BpmnWorkflow, task_id: str, data: Mapping[str, Any]) -> None:
    """Complete one ready human task with its form data, then run the engine on."""
    try:
        task = workflow.get_task_from_id(UUID(task_id))
    except Exception:
        raise EngineError(f"task {task_id} is not in this workflow") from None
    if task.state != SpiffState.READY or not task.task_spec.manual:
        raise EngineError(f"task {task_id} is not a ready human task")
    task.data.update(data)
    task.run()
    workflow.do_engine_steps()


def end_reached(workflow: BpmnWorkflow) -> str | None:
    """The id of the end event the top process finished on, when it is complete."""
    if not workflow.is_completed():
        return None
    ends = workflow.get_tasks(state=SpiffState.COMPLETED, spec_class=EndEvent)
    top = [task for task in ends if task.workflow is workflow]
    return str(top[-1].task_spec.bpmn_id) if top else None


def data_of(workflow: BpmnWorkflow) -> dict[str, Any]:
    """The data of the workflow's latest completed task (what the diagram knows now)."""
    done = workflow.get_tasks(state=SpiffState.COMPLETED)
    return dict(done[-1].data) if done else dict(workflow.data)
