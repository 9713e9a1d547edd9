"""Saving and restoring a workflow at every step gives the same run as never stopping.

Every built-in procedure is explored along every path its agents' and family's choices
open (one run per combination of choices), once kept in memory and once saved to JSON
and restored before each step; the tasks met, the data given, the end reached and the
final data must be identical.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from procedures import catalogue, engine
from procedures.definitions import Definition, FormField
from procedures.registry import OPERATIONS

MAX_PATHS = 64
# What each operation answers in these runs (the real ones need a database and a vault).
OPERATION_RESULTS: Mapping[str, Mapping[str, Any]] = {
    "notifier_famille": {"messages": 1},
    "affecter_ecole": {"ecole": "École des Lilas", "secteur_trouve": True},
    "generer_attestation": {"generee": True, "document": 1},
    "enregistrer_quotient": {"enregistre": True},
    "exporter_back_office": {"fichier": "back-office/x.json"},
}


def sample(field: FormField, choice: int) -> Any:
    if field.type == "choice":
        return field.choices[choice]
    return {"date": "2026-09-01", "number": 1, "boolean": True, "child": 1}.get(field.type, "x")


def form_data(fields: tuple[FormField, ...], choice: int) -> tuple[dict[str, Any], int]:
    """Values for a form, the first choice field set to its `choice`-th value."""
    data, options, branched = {}, 1, False
    for field in fields:
        pick = 0
        if field.type == "choice" and not branched:
            options, pick, branched = len(field.choices), choice, True
        data[field.name] = sample(field, pick)
    return data, options


@dataclass
class Run:
    trace: list[tuple[str, str]]
    end: str | None
    data: dict[str, Any]
    options: list[int]


def script_engine() -> engine.OperationScriptEngine:
    return engine.OperationScriptEngine(lambda name, _params, _task: OPERATION_RESULTS[name])


def drive(definition: Definition, diagram: Any, choices: list[int], persist: bool) -> Run:
    start, _ = form_data(definition.fields, 0)
    workflow = engine.start(diagram, start, script_engine())
    trace, options = [], []
    while True:
        if persist:
            workflow = engine.restore(engine.dump(workflow), script_engine())
        ready = engine.ready_tasks(workflow)
        if not ready:
            break
        task = ready[0]
        step = len(trace)
        data, count = form_data(
            definition.task(task.spec_id).form, choices[step] if step < len(choices) else 0
        )
        options.append(count)
        trace.append((task.spec_id, repr(sorted(data.items()))))
        engine.complete(workflow, task.id, data)
        assert len(trace) < 50, "a path that never ends"
    return Run(trace, engine.end_reached(workflow), engine.data_of(workflow), options)


def every_path(definition: Definition, diagram: Any) -> list[list[int]]:
    """Every combination of choices, found by running each prefix once."""
    paths, pending = [], [[]]
    while pending and len(paths) < MAX_PATHS:
        path = pending.pop()
        paths.append(path)
        options = drive(definition, diagram, path, persist=False).options
        for step in range(len(path), len(options)):
            prefix = path + [0] * (step - len(path))
            pending.extend([*prefix, choice] for choice in range(1, options[step]))
    return paths


def test_every_operation_has_an_answer_here() -> None:
    assert set(OPERATIONS) <= set(OPERATION_RESULTS)


@pytest.mark.parametrize("code", catalogue.built_in_codes())
def test_restoring_at_every_step_changes_nothing(code: str) -> None:
    definition, bpmn = catalogue.read_built_in(code)
    diagram = catalogue.check(definition, bpmn)
    ends = set()

    for path in every_path(definition, diagram):
        kept = drive(definition, diagram, path, persist=False)
        restored = drive(definition, diagram, path, persist=True)

        assert restored.trace == kept.trace
        assert restored.end == kept.end is not None
        assert restored.data == kept.data
        ends.add(kept.end)

    assert ends and ends <= set(definition.ends)
    if code == "creche":  # every end of the crèche is reached by a choice of someone
        assert ends == set(definition.ends)
