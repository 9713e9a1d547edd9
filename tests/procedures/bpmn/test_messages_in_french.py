"""Every reason the checker and the evaluator give reaches the administrator in French.

The exceptions keep their English text (logs, tests); what a page shows goes through
`diagrams.evaluator_message`, alone (a condition refused while the draft is checked) or
inside SpiffWorkflow's own message (a run that stops on an expression).
"""

from __future__ import annotations

import pytest

from procedures.bpmn import engine
from procedures.bpmn.diagrams import engine_message, evaluator_message, load_diagram
from procedures.bpmn.expressions import (
    ExpressionError,
    RestrictedScriptEngine,
    UnsafeExpression,
    check_expression,
    check_script,
    evaluate,
)
from procedures.bpmn.expressions.limits import MAX_SOURCE_LENGTH, MAX_STR_CONSTANT
from tests.demo.test_french_pages import problems_in

REFUSED_EXPRESSIONS = [
    "lambda x: x",
    "[x for x in y]",
    "(x for x in y)",
    "(y := 1)",
    "f(*a)",
    "a ** 2",
    "a @ b",
    "~a",
    "a & b",
    "a << 1",
    "a +",
    "b'x'",
    "10000000000000",
    "1e999",
    "'" + "a" * (MAX_STR_CONSTANT + 1) + "'",
    "_x",
    "x.__class__",
    "x.upper",
    "eval(1)",
    "len(x)(1)",
    "len(**k)",
    "round(x, ndigits=2)",
    "'%s' % x",
    "x is 1",
    "f'{x:>10}'",
    "x" + " + x" * (MAX_SOURCE_LENGTH // 4),
    "[" * 70 + "x" + "]" * 70,
    "x" + " + x" * 600,
]
REFUSED_SCRIPTS = ["import os", "x + 1", "_a = 1", "a = b = 1", "a = 1; b = 2"]
FAILING_RUNS = [
    ("1 / zero", {"zero": 0}),
    ("d['k']", {"d": {}}),
    ("l[5]", {"l": []}),
    ("'a' + n", {"n": 1}),
    ("n[0]", {"n": 1}),
    ("n.upper()", {"n": 1}),
    ("n.year", {"n": 1}),
    ("inconnu", {}),
    ("age_in_months(n, n)", {"n": 1}),
]


def _refused(check: object, source: str) -> str:
    with pytest.raises(UnsafeExpression) as refused:
        check(source)  # type: ignore[operator]
    return str(refused.value)


@pytest.mark.parametrize("source", REFUSED_EXPRESSIONS, ids=range(len(REFUSED_EXPRESSIONS)))
def test_each_refused_expression_is_explained_in_french(source: str) -> None:
    reason = _refused(check_expression, source)

    french = evaluator_message(reason)

    assert french != f"« {reason} »", "untranslated"
    assert problems_in(french.replace(source[:60], "")) == [], french


@pytest.mark.parametrize("source", REFUSED_SCRIPTS)
def test_each_refused_script_is_explained_in_french(source: str) -> None:
    reason = _refused(check_script, source)

    french = evaluator_message(reason)

    assert french != f"« {reason} »" and problems_in(french) == [], french


@pytest.mark.parametrize(("source", "data"), FAILING_RUNS)
def test_each_failing_evaluation_is_explained_in_french(
    source: str, data: dict[str, object]
) -> None:
    with pytest.raises(ExpressionError) as failed:
        evaluate(source, data)

    french = evaluator_message(str(failed.value))

    assert french != f"« {failed.value} »", "untranslated"
    outside_quotes = french.replace(f"« {source} »", "")
    assert problems_in(outside_quotes) == [], french


GATEWAY = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="debut"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="tranche" name="Quelle tranche ?" default="f2">
      <bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="basse"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="haute"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="debut" targetRef="tranche" />
    <bpmn:sequenceFlow id="f1" sourceRef="tranche" targetRef="basse">
      <bpmn:conditionExpression>attestation['generee'] != True</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f2" sourceRef="tranche" targetRef="haute" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_run_stopped_by_a_missing_key_says_so_in_french() -> None:
    diagram = load_diagram(GATEWAY.encode("utf-8"), {}, [])

    with pytest.raises(engine.DiagramFault) as fault, engine.diagram_faults():
        engine.start(diagram, {"attestation": {}}, RestrictedScriptEngine())

    assert fault.value.reason == (
        "l'expression « attestation['generee'] != True » ne peut pas être évaluée : "
        "« attestation['generee'] » lit une clé que les données n'ont pas (l'étape qui la "
        "remplit est-elle passée ?)"
    )


def test_a_refused_condition_in_a_diagram_is_explained_in_french() -> None:
    from procedures.bpmn.diagrams import DiagramRejected

    refused = GATEWAY.replace("attestation['generee'] != True", "eval('1')")

    with pytest.raises(DiagramRejected) as rejected:
        load_diagram(refused.encode("utf-8"), {}, [])

    messages = [problem.message for problem in rejected.value.problems]
    assert "expression refusée : l'appel de « eval » n'est pas permis" in messages


def test_an_engine_message_keeps_quoting_what_it_does_not_know() -> None:
    assert engine_message(RuntimeError("Something new")) == "« Something new »"
