"""The budget of one run: every condition and script of one step of a demande, or of one test
run of a draft, draws on it; a diagram past it stops with ScriptBudgetExceeded, keeping nothing.

The hostile diagrams are the attacks that held the portal: a script walking its largest values
again and again (35 s of CPU), a script leaving 67 MiB of task data, a diagram looping on itself
or forking in a loop (without end).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import pytest
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Account, Role, Service
from coffre.clock import FrozenClock
from coffre.models import Foyer
from coffre.vault import Vault
from notifications.models import OutboxMessage
from procedures import catalogue
from procedures.bpmn import engine
from procedures.bpmn.diagrams import BPMN, NS, load_diagram
from procedures.bpmn.expressions import (
    Budget,
    ScriptBudgetExceeded,
    UnsafeExpression,
    evaluate,
    evaluate_assignments,
)
from procedures.bpmn.expressions.limits import MAX_RUN_SIZE, MAX_RUN_STEPS, MAX_SIZE, MAX_TASK_DATA
from procedures.demandes import FamilyActor
from procedures.designer.publication import open_draft, save_draft
from procedures.designer.trial import trial_run
from procedures.history import EngineContext
from procedures.models import Demande, DemandeStatus, Task, TaskState
from tests.factories import make_account
from tests.procedures.flows import agent_of, open_task, publish, submitted_creche, work

SCRIPT_ID, SCRIPT_NAME, GATEWAY_NAME = "calculer_bareme", "Calculer le barème", "Encore ?"
# Walks a 50,000-item list fifteen times in one line: 12 s of CPU per 15 such lines before.
READING = "liste = [0] * 49999\ntaille = " + " + ".join(["len(liste + [])"] * 15)
# Builds one large text, then names it again and again: all of it saved as task data.
COPYING = "texte = 'x' * 99999\n" + "\n".join(f"copie_{k} = texte" for k in range(20))
LOOPING = "encore = True"
STEPS_LIMIT = f"more than {MAX_RUN_STEPS} steps"
DATA_LIMIT = f"task data of more than {MAX_TASK_DATA} items"
# What one last payment may add past the limit: an engine task creating a few, or one read.
OVERSHOOT = 10 * 1_000 + MAX_SIZE


def with_script(xml: str, script: str, *, loop: bool = False, flow_id: str = "Flow_1") -> str:
    """The crèche diagram with a script task "Calculer le barème" on the flow `flow_id`
    (Flow_1: right after the deposit; Flow_3: after the file check), looping on itself through
    a gateway when `loop`."""
    root = etree.fromstring(xml.encode("utf-8"))
    process = root.find("bpmn:process", NS)
    assert process is not None
    flow = process.find(f"bpmn:sequenceFlow[@id='{flow_id}']", NS)
    assert flow is not None
    target = flow.get("targetRef", "")
    flow.set("targetRef", SCRIPT_ID)
    task = etree.SubElement(process, f"{{{BPMN}}}scriptTask", id=SCRIPT_ID, name=SCRIPT_NAME)
    etree.SubElement(task, f"{{{BPMN}}}script").text = script
    if not loop:
        _flow(process, "Flow_bareme", SCRIPT_ID, target)
        return etree.tostring(root, encoding="unicode")
    gateway = "Gateway_bareme"
    etree.SubElement(process, f"{{{BPMN}}}exclusiveGateway", id=gateway, name=GATEWAY_NAME)
    _flow(process, "Flow_bareme", SCRIPT_ID, gateway)
    _flow(process, "Flow_encore", gateway, SCRIPT_ID, "encore")
    _flow(process, "Flow_suite", gateway, target, "not encore")
    return etree.tostring(root, encoding="unicode")


def _flow(process: etree._Element, flow_id: str, source: str, target: str, when: str = "") -> None:
    flow = etree.SubElement(
        process, f"{{{BPMN}}}sequenceFlow", id=flow_id, sourceRef=source, targetRef=target
    )
    if when:
        etree.SubElement(flow, f"{{{BPMN}}}conditionExpression").text = when


def hostile_creche(script: str, *, loop: bool = False, flow_id: str = "Flow_1") -> bytes:
    _definition, bpmn = catalogue.read_built_in("creche")
    return with_script(bpmn.decode("utf-8"), script, loop=loop, flow_id=flow_id).encode("utf-8")


def publish_hostile(
    session: Session,
    clock: FrozenClock,
    script: str,
    *,
    loop: bool = False,
    flow_id: str = "Flow_1",
) -> None:
    """Publish `hostile_creche` as the crèche's current version."""
    definition, _bpmn = catalogue.read_built_in("creche")
    catalogue.publish(
        session, clock, definition, hostile_creche(script, loop=loop, flow_id=flow_id), None
    )
    session.commit()


def started(xml: str, data: dict[str, object]) -> engine.OperationScriptEngine:
    """Start a diagram without lanes under a script engine of its own; return the engine."""
    script_engine = engine.OperationScriptEngine(lambda _name, _params, _task: {})
    engine.start(load_diagram(xml.encode("utf-8"), {}, []), data, script_engine)
    return script_engine


def looping(script: str, condition: str) -> str:
    """A script task, then a gateway going back to it while `condition` holds."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="{BPMN}" id="D" targetNamespace="https://example.test/bpmn">
  <bpmn:process id="boucle" isExecutable="true">
    <bpmn:startEvent id="Debut" />
    <bpmn:scriptTask id="compter" name="Compter"><bpmn:script>{escape(script)}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="encore" default="Flow_fin" />
    <bpmn:endEvent id="Fin" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="Debut" targetRef="compter" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="compter" targetRef="encore" />
    <bpmn:sequenceFlow id="Flow_retour" sourceRef="encore" targetRef="compter">
      <bpmn:conditionExpression>{escape(condition)}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_fin" sourceRef="encore" targetRef="Fin" />
  </bpmn:process>
</bpmn:definitions>"""


FORKING = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="{BPMN}" id="D" targetNamespace="https://example.test/bpmn">
  <bpmn:process id="fourche" isExecutable="true">
    <bpmn:startEvent id="Debut" />
    <bpmn:exclusiveGateway id="reunir" />
    <bpmn:parallelGateway id="doubler" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="Debut" targetRef="reunir" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="reunir" targetRef="doubler" />
    <bpmn:sequenceFlow id="Flow_a" sourceRef="doubler" targetRef="reunir" />
    <bpmn:sequenceFlow id="Flow_b" sourceRef="doubler" targetRef="reunir" />
  </bpmn:process>
</bpmn:definitions>"""


# --- the evaluator -------------------------------------------------------------------------


def test_every_expression_of_a_run_draws_on_one_budget() -> None:
    budget = Budget(max_steps=10)
    assert evaluate("a + 1", {"a": 1}, budget) == 2
    spent = budget.steps
    assert evaluate("a + 1", {"a": 1}, budget) == 2
    assert budget.steps == 2 * spent
    with pytest.raises(ScriptBudgetExceeded, match="more than 10 steps") as stopped:
        evaluate_assignments("b = a + 1\nc = b + 1\nd = c + 1\ne = d + 1", {"a": 1}, budget)
    assert isinstance(stopped.value, UnsafeExpression)
    assert stopped.value.steps == budget.steps > 10


def test_a_script_reading_a_large_list_again_and_again_stops_at_the_step_budget() -> None:
    budget = Budget()
    with pytest.raises(ScriptBudgetExceeded, match=STEPS_LIMIT) as stopped:
        evaluate_assignments(READING, {}, budget)
    assert MAX_RUN_STEPS < stopped.value.steps == budget.steps <= MAX_RUN_STEPS + OVERSHOOT


def test_a_script_building_large_values_line_after_line_stops_at_the_size_budget() -> None:
    script = "texte = 'x' * 99999\n" + "\n".join(f"t{k} = texte + 'y'" for k in range(12))
    budget = Budget()
    with pytest.raises(ScriptBudgetExceeded, match=f"values built of more than {MAX_RUN_SIZE}"):
        evaluate_assignments(script, {}, budget)
    assert MAX_RUN_SIZE < budget.size <= MAX_RUN_SIZE + MAX_SIZE
    assert budget.steps < MAX_RUN_STEPS  # few nodes: only the size stopped it


# --- the engine ----------------------------------------------------------------------------


def test_a_diagram_looping_on_itself_stops_at_the_budget_naming_its_element() -> None:
    with pytest.raises(ScriptBudgetExceeded, match=STEPS_LIMIT) as stopped:
        started(looping("tours = tours + 1", "tours > 0"), {"tours": 0})
    assert stopped.value.task_name in ("Compter", "encore")
    assert MAX_RUN_STEPS < stopped.value.steps <= MAX_RUN_STEPS + OVERSHOOT


def test_a_diagram_forking_in_a_loop_stops_at_the_budget() -> None:
    """Without a budget this one never ends: each turn doubles the tokens."""
    with pytest.raises(ScriptBudgetExceeded, match=STEPS_LIMIT) as stopped:
        started(FORKING, {})
    assert stopped.value.task_name in ("reunir", "doubler")


def test_a_script_leaving_large_task_data_stops_before_anything_is_saved() -> None:
    with pytest.raises(ScriptBudgetExceeded, match=DATA_LIMIT) as stopped:
        started(looping(COPYING, "False"), {})
    assert stopped.value.task_name == "Compter"
    assert stopped.value.steps < MAX_RUN_STEPS  # the data's size stopped it


# --- a test run of a draft, a demande --------------------------------------------------------


@pytest.fixture
def admin(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> Account:
    publish(db_session, clock, "creche")
    return make_account(db_session, clock, Role.ADMIN)


@pytest.mark.parametrize(
    ("script", "loop", "limit"),
    [(READING, False, STEPS_LIMIT), (COPYING, False, DATA_LIMIT), (LOOPING, True, STEPS_LIMIT)],
    ids=["reading", "copying", "looping"],
)
def test_a_test_run_of_a_hostile_draft_stops_with_the_budget_error(
    db_session: Session, clock: FrozenClock, admin: Account, script: str, loop: bool, limit: str
) -> None:
    draft = open_draft(db_session, "creche")
    xml = with_script(draft.bpmn_xml, script, loop=loop)
    save_draft(db_session, clock, "creche", xml, draft.metadata_toml, admin.id)

    with pytest.raises(ScriptBudgetExceeded, match=limit) as stopped:
        trial_run(db_session, "creche", {})

    assert stopped.value.task_name in (SCRIPT_NAME, GATEWAY_NAME)
    assert stopped.value.steps <= MAX_RUN_STEPS + OVERSHOOT


def test_a_demande_on_a_hostile_version_fails_at_submit_and_keeps_nothing(
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    family: FamilyActor,
    vault: Vault,
    foyer: Foyer,
    petite_enfance: Service,
) -> None:
    publish_hostile(db_session, clock, COPYING)

    with pytest.raises(ScriptBudgetExceeded, match=DATA_LIMIT):
        submitted_creche(db_session, ctx, family, vault, foyer)

    demande = db_session.scalars(select(Demande)).one()
    assert demande.status is DemandeStatus.BROUILLON and demande.workflow_state is None
    assert db_session.scalar(select(Task.id)) is None
    assert db_session.scalar(select(OutboxMessage.id)) is None  # the receipt never went out


def test_a_step_of_a_demande_past_the_budget_is_rolled_back(
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    family: FamilyActor,
    vault: Vault,
    foyer: Foyer,
    petite_enfance: Service,
) -> None:
    publish_hostile(db_session, clock, LOOPING, loop=True, flow_id="Flow_3")  # after the check
    demande = submitted_creche(db_session, ctx, family, vault, foyer)
    state = demande.workflow_state
    agent = agent_of(db_session, clock, petite_enfance)

    with pytest.raises(ScriptBudgetExceeded, match=STEPS_LIMIT):
        work(db_session, ctx, agent, demande, {})

    db_session.refresh(demande)
    assert demande.workflow_state == state
    assert open_task(db_session, demande).state is TaskState.CLAIMED
