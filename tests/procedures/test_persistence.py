"""Saving and restoring a workflow at every step gives the same run as never stopping.

Every built-in procedure is explored along every path its agents' and family's choices
open (one run per combination of choices), once kept in memory and once saved to JSON
and restored before each step; the tasks met, the data given, the end reached and the
final data must be identical.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from coffre.models import Foyer
from coffre.vault import Vault
from procedures import catalogue
from procedures.bpmn import engine, timers
from procedures.bpmn.diagrams import Diagram
from procedures.bpmn.engine import EngineError
from procedures.bpmn.expressions import RestrictedScriptEngine
from procedures.definitions import Definition, FormField
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.models import ProcedureVersion
from procedures.operations.registry import OPERATIONS
from procedures.tasks import AgentActor
from tests.procedures.flows import agent_of, open_task, publish, submitted_creche, work

MAX_PATHS = 64
# What each operation answers in these runs (the real ones need a database and a vault).
OPERATION_RESULTS: Mapping[str, Mapping[str, Any]] = {
    "notifier_famille": {"messages": 1},
    "etudier_cours": {"cours": "piano", "saison": "2027-2028", "age": 9, "age_ok": True},
    "affecter_ecole": {"ecole": "École des Lilas", "secteur_trouve": True},
    "retenir_ecole": {"ecole": "École des Lilas"},
    "generer_attestation": {"generee": True, "document": 1},
    "enregistrer_quotient": {"enregistre": True},
    "exporter_back_office": {"fichier": "back-office/x.json"},
    "etudier_transport": {"dessert_ecole": True, "rue_connue": True, "distance_km": 6.4},
    "delivrer_carte_transport": {"delivree": True, "document_id": 1},
    "preparer_derogation": {"meme_ecole": False, "seance": "2026-01-21T07:00:00+00:00"},
    "informer_directeurs": {"directeurs_informes": ["Groupe scolaire des Lilas"]},
    "situer_ecole_pai": {"ecole": "Groupe scolaire des Lilas", "source": "fiche"},
    "partager_pai": {"equipes": 2, "valable_jusqu_au": "2027-08-31"},
    "lire_changement": {"complet": True, "motif": "", "changement": "adresse"},
    "appliquer_changement": {"changement": "adresse", "demandes": [], "message": "Mis à jour."},
    "relever_adresse_foyer": {"adresse": "12 rue des Lilas, 33600 Bellerive", "renseignee": True},
    "delivrer_attestation_domicile": {"generee": True, "document_id": 1},
}


def decisions_of(code: str) -> bytes:
    """The decision tables shipped beside a built-in diagram (none for most)."""
    return catalogue.read_decisions(catalogue.BUILT_IN / f"{code}.bpmn")


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
    diagram = catalogue.check(definition, bpmn, decisions_of(code))
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


# Saved states name their diagram ------------------------------------------------------------

# How earlier releases saved a workflow: SpiffWorkflow's own serializer, the spec inside
# (a diagram's timers, on the portal's clock, under SpiffWorkflow's converters).
CLOCKED_TIMERS = {clocked: SPIFF_CONFIG[base] for base, clocked in timers.CLOCKED.items()}
WHOLE = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG | CLOCKED_TIMERS))


def started(code: str) -> tuple[Diagram, BpmnWorkflow]:
    definition, bpmn = catalogue.read_built_in(code)
    diagram = catalogue.check(definition, bpmn, decisions_of(code))
    return diagram, engine.start(diagram, form_data(definition.fields, 0)[0], script_engine())


def drive_saved_whole(
    definition: Definition, diagram: Diagram, choices: list[int], on_diagram: bool
) -> Run:
    """`drive`, the workflow saved whole before each step and restored on `diagram` or not."""
    start, _ = form_data(definition.fields, 0)
    workflow = engine.start(diagram, start, script_engine())
    trace = []
    while True:
        given = diagram if on_diagram else None
        workflow = engine.restore(WHOLE.serialize_json(workflow), script_engine(), given)
        ready = engine.ready_tasks(workflow)
        if not ready:
            break
        step = len(trace)
        choice = choices[step] if step < len(choices) else 0
        data, _ = form_data(definition.task(ready[0].spec_id).form, choice)
        trace.append((ready[0].spec_id, repr(sorted(data.items()))))
        engine.complete(workflow, ready[0].id, data)
        assert len(trace) < 50, "a path that never ends"
    return Run(trace, engine.end_reached(workflow), engine.data_of(workflow), [])


def test_a_saved_state_names_its_diagram_instead_of_copying_its_spec() -> None:
    diagram, workflow = started("creche")

    state = engine.dump(workflow)

    saved = json.loads(state)
    _, bpmn = catalogue.read_built_in("creche")
    assert saved[engine.SPEC_KEY] == hashlib.sha256(bpmn).hexdigest() == diagram.source_sha256
    assert "spec" not in saved and "subprocess_specs" not in saved
    assert len(state) * 2 < len(WHOLE.serialize_json(workflow))
    assert engine.restore(state, script_engine()).spec is diagram.spec


@pytest.mark.parametrize("on_diagram", [True, False], ids=["on its diagram", "on its own spec"])
@pytest.mark.parametrize("code", catalogue.built_in_codes())
def test_a_state_saved_whole_by_an_earlier_release_restores_to_the_same_run(
    code: str, on_diagram: bool
) -> None:
    definition, bpmn = catalogue.read_built_in(code)
    diagram = catalogue.check(definition, bpmn, decisions_of(code))

    for path in every_path(definition, diagram):
        kept = drive(definition, diagram, path, persist=False)
        restored = drive_saved_whole(definition, diagram, path, on_diagram)

        assert (restored.trace, restored.end, restored.data) == (kept.trace, kept.end, kept.data)


def test_a_state_saved_whole_is_saved_again_naming_the_diagram_it_was_restored_on() -> None:
    diagram, workflow = started("creche")
    whole = WHOLE.serialize_json(workflow)

    on_diagram = engine.restore(whole, script_engine(), diagram)
    on_own_spec = engine.restore(whole, script_engine())

    assert json.loads(engine.dump(on_diagram))[engine.SPEC_KEY] == diagram.source_sha256
    with pytest.raises(EngineError):  # no diagram to name: it is not saved without its spec
        engine.dump(on_own_spec)


def test_a_state_is_not_restored_on_another_diagram() -> None:
    _, creche = started("creche")
    other, _ = started("signalement")

    for state in (engine.dump(creche), WHOLE.serialize_json(creche)):
        with pytest.raises(EngineError):
            engine.restore(state, script_engine(), other)


def test_a_state_naming_a_diagram_this_process_has_not_loaded_needs_that_diagram() -> None:
    _, workflow = started("creche")
    saved = json.loads(engine.dump(workflow)) | {engine.SPEC_KEY: hashlib.sha256(b"").hexdigest()}

    with pytest.raises(EngineError):
        engine.restore(json.dumps(saved), script_engine())


def test_a_state_named_by_another_serializer_version_is_refused() -> None:
    diagram, workflow = started("creche")
    saved = json.loads(engine.dump(workflow)) | {"serializer_version": "1.4"}

    with pytest.raises(EngineError):
        engine.restore(json.dumps(saved), script_engine(), diagram)


def test_a_workflow_is_restored_only_under_the_restricted_script_engine() -> None:
    diagram, workflow = started("creche")

    with pytest.raises(TypeError):
        engine.restore(engine.dump(workflow), PythonScriptEngine(), diagram)


# Through the services -----------------------------------------------------------------------


@pytest.fixture
def creche_agent(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> AgentActor:
    publish(db_session, clock, "creche")
    return agent_of(db_session, clock, petite_enfance)


def test_a_demande_saved_whole_goes_on_and_is_saved_naming_its_diagram(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    creche_agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    demande = submitted_creche(db_session, ctx, family, vault, foyer)
    assert demande.workflow_state is not None
    workflow = engine.restore(demande.workflow_state, RestrictedScriptEngine())
    demande.workflow_state = WHOLE.serialize_json(workflow)  # as an earlier release left it
    db_session.commit()

    work(db_session, ctx, creche_agent, demande, {})

    assert open_task(db_session, demande).spec_id == "decision_commission"
    assert demande.workflow_state is not None
    saved = json.loads(demande.workflow_state)
    version = db_session.get(ProcedureVersion, demande.procedure_version_id)
    assert version is not None
    assert saved[engine.SPEC_KEY] == hashlib.sha256(version.bpmn_xml.encode()).hexdigest()
    assert "spec" not in saved


def test_a_running_demande_keeps_its_diagram_when_a_changed_one_is_published(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    creche_agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    before = submitted_creche(db_session, ctx, family, vault, foyer)
    definition, bpmn = catalogue.read_built_in("creche")
    renamed = bpmn.replace(b'name="D\xc3\xa9cision de la commission"', b'name="Commission"')
    assert renamed != bpmn
    catalogue.publish(db_session, clock, definition, renamed, None)
    db_session.commit()
    after = submitted_creche(db_session, ctx, family, vault, foyer)

    work(db_session, ctx, creche_agent, before, {})
    work(db_session, ctx, creche_agent, after, {})

    assert open_task(db_session, before).title == "Décision de la commission"
    assert open_task(db_session, after).title == "Commission"
