"""A run that stops on a fault of the diagram says so in French, naming the element."""

from __future__ import annotations

import pytest

from procedures.bpmn import engine
from procedures.bpmn.diagrams import engine_message, load_diagram
from procedures.bpmn.expressions import RestrictedScriptEngine

GATEWAY = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="debut"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="tranche" name="Quelle tranche ?">
      <bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="basse"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="haute"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="debut" targetRef="tranche" />
    <bpmn:sequenceFlow id="f1" sourceRef="tranche" targetRef="basse">
      <bpmn:conditionExpression>quotient &lt; 600</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f2" sourceRef="tranche" targetRef="haute">
      <bpmn:conditionExpression>quotient &gt; 600</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            {"quotient": 600},
            "aucune condition de la passerelle n'est vraie pour ces réponses : ajoutez un flux "
            "par défaut ou une condition qui couvre ce cas",
        ),
        (
            {},
            "l'expression « quotient < 600 » ne peut pas être évaluée : aucune réponse ni "
            "variable ne s'appelle « quotient » à cette étape",
        ),
        (
            {"quotient": "six cents"},
            "l'expression « quotient < 600 » ne peut pas être évaluée : « quotient < 600 » "
            "compare ou combine des valeurs de types différents (str et int)",
        ),
    ],
)
def test_a_run_that_stops_on_the_diagram_names_the_element_and_the_fix_in_french(
    data: dict[str, object], reason: str
) -> None:
    diagram = load_diagram(GATEWAY.encode("utf-8"), {}, [])

    with pytest.raises(engine.DiagramFault) as fault, engine.diagram_faults():
        engine.start(diagram, data, RestrictedScriptEngine())

    assert (fault.value.element, fault.value.element_id) == ("Quelle tranche ?", "tranche")
    assert fault.value.reason.startswith(reason)
    assert "six cents" not in fault.value.reason  # the data stays out of it


def test_an_unknown_engine_message_is_quoted_as_it_is() -> None:
    assert engine_message(RuntimeError("Something new")) == "« Something new »"
