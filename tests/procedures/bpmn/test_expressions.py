"""The restricted evaluator: what diagrams may compute, what they may never reach."""

from __future__ import annotations

import ast
import builtins
import contextlib
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from procedures.bpmn import expressions
from procedures.bpmn.expressions import (
    ExpressionError,
    RestrictedScriptEngine,
    UnsafeExpression,
    age_in_months,
    check_expression,
    check_script,
    evaluate,
    evaluate_assignments,
)

SECRET = "Dupont-1987-secret"

CONTEXT: dict[str, Any] = {
    "nom": "  Alice MARTIN ",
    "secret": SECRET,
    "nombre_enfants": 3,
    "quotient": 812.5,
    "tarif": Decimal("12.40"),
    "enfants": [
        {"prenom": "Léa", "naissance": date(2022, 3, 15)},
        {"prenom": "Tom", "naissance": date(2019, 11, 2)},
    ],
    "foyer": {"commune": "Lyon", "allocataire": True, "revenus": None},
    "depot": datetime(2025, 1, 10, 14, 30),
    "le_jour": date(2025, 1, 10),
    "codes": ["A", "B", "C"],
    "zero": 0,
    "vide": "",
}

ALLOWED: list[tuple[str, object]] = [
    ("1 + 2 * 3", 7),
    ("7 // 2", 3),
    ("7 % 3", 1),
    ("7 / 2", 3.5),
    ("-nombre_enfants + +2", -1),
    ("quotient > 800", True),
    ("tarif * 2", Decimal("24.80")),
    ("1 < nombre_enfants <= 3", True),
    ("1 < nombre_enfants < 3", False),
    ("nombre_enfants == 3 and quotient < 1000", True),
    ("zero or 'défaut'", "défaut"),
    ("vide and 1", ""),
    ("not foyer['allocataire']", False),
    ("foyer['revenus'] is None", True),
    ("foyer['commune'] is not None", True),
    ("None is foyer['revenus']", True),
    ("'B' in codes", True),
    ("'Z' not in codes", True),
    ("'commune' in foyer", True),
    ("'x' if nombre_enfants > 2 else 'y'", "x"),
    ("enfants[0]['prenom']", "Léa"),
    ("enfants[-1]['prenom']", "Tom"),
    ("codes[1:]", ["B", "C"]),
    ("codes[::-1]", ["C", "B", "A"]),
    ("nom[2:7]", "Alice"),
    ("nom.strip().lower()", "alice martin"),
    ("nom.strip().upper().startswith('ALICE')", True),
    ("nom.strip().endswith('MARTIN')", True),
    ("nom.split()", ["Alice", "MARTIN"]),
    ("nom.replace(' ', '')", "AliceMARTIN"),
    ("nom.count('A')", 2),
    ("foyer.get('commune')", "Lyon"),
    ("foyer.get('absent', 'rien')", "rien"),
    ("foyer.keys()", ["commune", "allocataire", "revenus"]),
    ("codes.index('C')", 2),
    ("le_jour.year * 100 + le_jour.month", 202501),
    ("depot.hour", 14),
    ("depot.date() == le_jour", True),
    ("le_jour.isoformat()", "2025-01-10"),
    ("le_jour.weekday()", 4),
    ("len(enfants)", 2),
    ("min(3, 1, 2)", 1),
    ("max(codes)", "C"),
    ("abs(-4)", 4),
    ("round(quotient / 3, 2)", 270.83),
    ("round(2.5)", 2),
    ("int('42') + 1", 43),
    ("float('1.5')", 1.5),
    ("str(nombre_enfants) + ' enfants'", "3 enfants"),
    ("bool(vide)", False),
    ("sorted(codes, reverse=True)", ["C", "B", "A"]),
    ("sum([1, 2, 3])", 6),
    ("any([zero, vide, nombre_enfants])", True),
    ("all([nombre_enfants, quotient])", True),
    ("date(2025, 1, 10) == le_jour", True),
    ("age_in_months(enfants[0]['naissance'], le_jour)", 33),
    ("age_in_years(enfants[1]['naissance'], le_jour)", 5),
    ("age_in_months('2024-01-10', '2025-01-09')", 11),
    ("days_between(date(2025, 1, 1), le_jour)", 9),
    ("[1, 'a', None]", [1, "a", None]),
    ("(1, 2)", (1, 2)),
    ("{'a': 1}['a']", 1),
    ("{1, 2} == {2, 1}", True),
    ("f'{nombre_enfants} enfants, {foyer[\"commune\"]!r}'", "3 enfants, 'Lyon'"),
    ("'ab' * 3", "ababab"),
    ("[0] * 3", [0, 0, 0]),
    ("codes + ['D']", ["A", "B", "C", "D"]),
    ("'__class__'", "__class__"),
    ("foyer.get('__class__')", None),
    ("\n   nombre_enfants >= 3\n  ", True),
    ("1_000_000_000_000 > 0", True),
]


@pytest.mark.parametrize(("source", "expected"), ALLOWED)
def test_allowed_expression_evaluates_like_python(source: str, expected: object) -> None:
    check_expression(source)
    assert evaluate(source, CONTEXT) == expected


# Refused by the static check, before any data is touched.
STATIC_HOSTILE: list[tuple[str, str]] = [
    ("__import__('os').system('id')", "is not allowed"),
    ("__import__('os')", "call to '__import__' is not allowed"),
    ("open('/etc/passwd').read()", "is not allowed"),
    ("open('/etc/passwd')", "call to 'open' is not allowed"),
    ("eval('1')", "call to 'eval' is not allowed"),
    ("exec('x = 1')", "call to 'exec' is not allowed"),
    ("compile('1', 'f', 'eval')", "call to 'compile' is not allowed"),
    ("getattr(nom, 'upper')", "call to 'getattr' is not allowed"),
    ("setattr(foyer, 'a', 1)", "call to 'setattr' is not allowed"),
    ("globals()", "call to 'globals' is not allowed"),
    ("locals()['x']", "call to 'locals' is not allowed"),
    ("vars()", "call to 'vars' is not allowed"),
    ("dir()", "call to 'dir' is not allowed"),
    ("type(nom)", "call to 'type' is not allowed"),
    ("breakpoint()", "call to 'breakpoint' is not allowed"),
    ("input()", "call to 'input' is not allowed"),
    ("print(secret)", "call to 'print' is not allowed"),
    ("pow(10, 10**9)", "call to 'pow' is not allowed"),
    ("__builtins__", "name '__builtins__' is not allowed"),
    ("_prive", "name '_prive' is not allowed"),
    ("__name__", "name '__name__' is not allowed"),
    ("().__class__", "attribute access to '__class__' is not allowed"),
    ("().__class__.__bases__[0].__subclasses__()", "'__subclasses__' is not allowed"),
    ("''.__class__.__mro__[1].__subclasses__()", "is not allowed"),
    ("nom.__len__()", "attribute access to '__len__' is not allowed"),
    ("age_in_months.__globals__", "attribute access to '__globals__' is not allowed"),
    ("le_jour.__reduce__()", "attribute access to '__reduce__' is not allowed"),
    ("foyer.__init__.__globals__['os']", "is not allowed"),
    ("nom._secret", "attribute access to '_secret' is not allowed"),
    ("nom.format", "attribute access to 'format' is not allowed"),
    ("'{0.__class__}'.format(nom)", "attribute access to 'format' is not allowed"),
    ("'{0.__init__.__globals__}'.format(nom)", "attribute access to 'format' is not allowed"),
    ("'{x}'.format_map(foyer)", "attribute access to 'format_map' is not allowed"),
    ("nom.encode()", "attribute access to 'encode' is not allowed"),
    ("foyer.update({'a': 1})", "attribute access to 'update' is not allowed"),
    ("codes.append(1)", "attribute access to 'append' is not allowed"),
    ("codes.pop()", "attribute access to 'pop' is not allowed"),
    ("foyer.get", "method 'get' may only be called"),
    ("le_jour.year.real", "attribute access to 'real' is not allowed"),
    ("le_jour.today()", "attribute access to 'today' is not allowed"),
    ("lambda: 1", "lambda is not allowed"),
    ("(lambda: 1)()", "calling the result of an expression is not allowed"),
    ("[x for x in codes]", "comprehension is not allowed"),
    ("[c for c in ().__class__.__bases__]", "is not allowed"),
    ("{k: v for k, v in foyer.items()}", "comprehension is not allowed"),
    ("{c for c in codes}", "comprehension is not allowed"),
    ("any(c == 'A' for c in codes)", "generator expression is not allowed"),
    ("[y := 1]", "assignment expression (:=) is not allowed"),
    ("(x := 5)", "assignment expression (:=) is not allowed"),
    ("[*codes]", "unpacking with * is not allowed"),
    ("max(*codes)", "unpacking with * is not allowed"),
    ("{**foyer}", "unpacking with ** is not allowed"),
    ("sorted(codes, **foyer)", "unpacking with ** is not allowed"),
    ("sorted(codes, key=len)", "keyword argument 'key' is not allowed"),
    ("nom.split(sep=' ')", "keyword argument 'sep' is not allowed"),
    ("10 ** 9", "the ** operator is not allowed"),
    ("'a' * 10 ** 9", "the ** operator is not allowed"),
    ("2 ** 2 ** 2 ** 2 ** 2", "the ** operator is not allowed"),
    ("1 << 100000", "the << operator is not allowed"),
    ("~1", "the ~ operator is not allowed"),
    ("codes @ codes", "the @ operator is not allowed"),
    ("1 | 2", "the | operator is not allowed"),
    ("'%s' % secret", "%-formatting of strings is not allowed"),
    ("'%999999999s' % ('x',)", "%-formatting of strings is not allowed"),
    ("f'{nom:>999999999}'", "format specifications in f-strings are not allowed"),
    ("f'{nom.__class__}'", "attribute access to '__class__' is not allowed"),
    ("nom is nom", "'is' is only allowed with None"),
    ("10000000000000", "integer constant larger than 10**12 is not allowed"),
    ("'a' * 99999999999999999999", "integer constant larger than 10**12 is not allowed"),
    ("1e999", "infinite float constant is not allowed"),
    ("b'bytes'", "constant of type 'bytes' is not allowed"),
    ("1j", "constant of type 'complex' is not allowed"),
    ("...", "constant of type 'ellipsis' is not allowed"),
    ("'" + "a" * 1999 + "'", "longer than 2000 characters"),
    (" or ".join(["nombre_enfants == 1"] * 120), "longer than 2000 characters"),
    ("[" + ",".join(["1"] * 600) + "]", "expression too complex"),
    ("+".join(["1"] * 400), "nested more than"),
    ("-" * 200 + "1", "nested more than"),
    ("not " * 100 + "vide", "nested more than"),
    ("(" * 300 + "1" + ")" * 300, "syntax error"),
    ("[" * 70 + "]" * 70, "nested more than"),
    ("import os", "syntax error"),
    ("x = 1", "syntax error"),
    ("yield 1", "syntax error"),
    ("await x", "await is not allowed"),
    ("1 +", "syntax error"),
    ("", "syntax error"),
    ("a\x00b", "syntax error"),
    ("\ud800", "cannot be parsed"),
]

# Pass the static check; refused when the operands are known, before any memory is spent.
RUNTIME_HOSTILE: list[tuple[str, str]] = [
    ("'a' * 1000000000000", "repetition beyond 100000 items"),
    ("1000000000000 * 'a'", "repetition beyond 100000 items"),
    ("[0] * 1000000000", "repetition beyond 100000 items"),
    ("secret * 100000", "repetition beyond 100000 items"),
    ("[[0] * 1000] * 1000", "repetition beyond 100000 items"),
    ("str([codes * 20000, codes * 20000])", "larger than 100000"),
    ("(vide + '%d') % 1", "%-formatting of strings is not allowed"),
    ("('a' * 60000) + ('b' * 60000)", "larger than 100000"),
    ("nom.replace('', 'x' * 90000)", "replace() producing more than 100000 characters"),
    ("round(5, -1000000000000)", "round() accepts at most 15 digits"),
    ("int(1e300)", "integer result over 256 bits"),
    (
        "1000000000000 * 1000000000000 * 1000000000000 * 1000000000000 * 1000000000000"
        " * 1000000000000 * 1000000000000",
        "integer result over 256 bits",
    ),
]


@pytest.mark.parametrize(("source", "message"), STATIC_HOSTILE)
def test_hostile_expression_is_refused_before_running(source: str, message: str) -> None:
    with pytest.raises(UnsafeExpression, match=re.escape(message)):
        check_expression(source)
    with pytest.raises(UnsafeExpression):
        evaluate(source, CONTEXT)


@pytest.mark.parametrize(("source", "message"), RUNTIME_HOSTILE)
def test_resource_abuse_is_refused_at_run_time(source: str, message: str) -> None:
    check_expression(source)
    with pytest.raises(UnsafeExpression, match=re.escape(message)):
        evaluate(source, CONTEXT)


def test_refusals_name_the_construct_never_the_data() -> None:
    with pytest.raises(UnsafeExpression) as refused:
        evaluate("secret.__class__", CONTEXT)
    assert str(refused.value) == "attribute access to '__class__' is not allowed"
    with pytest.raises(UnsafeExpression) as repeated:
        evaluate("secret * 1000000", CONTEXT)
    assert SECRET not in str(repeated.value)


RUNTIME_ERRORS: list[tuple[str, str]] = [
    ("inconnu == 1", "unknown name 'inconnu'"),
    ("nombre_enfants / zero", "division by zero in 'nombre_enfants / zero'"),
    ("nombre_enfants % zero", "division by zero"),
    ("tarif / zero", "division by zero"),
    ("foyer['absent']", "key not found in 'foyer['absent']'"),
    ("foyer[secret]", "key not found"),
    ("codes[10]", "index out of range"),
    ("secret + 1", "wrong types (str and int) in 'secret + 1'"),
    ("secret < 1", "wrong types (str and int)"),
    ("-secret", "wrong types (str)"),
    ("int(secret)", "invalid value in 'int(secret)'"),
    ("float(secret)", "invalid value"),
    ("date(2025, 13, 1)", "invalid value"),
    ("len(nombre_enfants)", "wrong types"),
    ("min()", "wrong types"),
    ("sum(codes)", "wrong types"),
    ("sorted([1, 'a'])", "wrong types"),
    ("{[1]: 2}", "wrong types"),
    ("{codes}", "wrong types"),
    ("codes[secret]", "wrong types"),
    ("codes[::0]", "invalid value"),
    ("nombre_enfants[0]", "a value of type int cannot be indexed"),
    ("nombre_enfants.lower()", "'lower' cannot be called on a int value"),
    ("le_jour.lower()", "'lower' cannot be called on a date"),
    ("secret.year", "a str value has no attribute 'year'"),
    ("le_jour.hour", "a date value has no attribute 'hour'"),
    ("codes.index(secret)", "invalid value"),
    ("age_in_months(secret, le_jour)", "birth date is not a date"),
    ("age_in_months(1, le_jour)", "birth date is not a date (got a int)"),
]


@pytest.mark.parametrize(("source", "message"), RUNTIME_ERRORS)
def test_runtime_failure_is_an_expression_error_without_data(source: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)) as failed:
        evaluate(source, CONTEXT)
    assert SECRET not in str(failed.value)
    assert "Traceback" not in str(failed.value)


def test_overflowing_float_conversion_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError, match="number out of range"):
        evaluate("int(1e300 * 1e300)", CONTEXT)


def test_expressions_never_mutate_the_context() -> None:
    context = {"codes": ["B", "A"], "foyer": {"a": 1}}
    evaluate("sorted(codes) + [foyer.get('a'), foyer.keys(), codes[::-1]]", context)
    evaluate_assignments("codes2 = codes + ['C']\nfoyer2 = {'b': 2}", context)
    assert context == {"codes": ["B", "A"], "foyer": {"a": 1}}


def test_subclassed_string_in_data_uses_the_plain_str_method() -> None:
    class Sly(str):
        def lower(self) -> str:  # pragma: no cover - must never run
            raise AssertionError("subclass method called")

    assert evaluate("nom.lower()", {"nom": Sly("ABC")}) == "abc"


def test_age_in_months_counts_whole_months() -> None:
    assert age_in_months(date(2024, 1, 31), date(2024, 2, 29)) == 0
    assert age_in_months(date(2024, 1, 31), date(2024, 3, 31)) == 2
    assert age_in_months(date(2024, 5, 10), date(2024, 5, 10)) == 0
    assert age_in_months(datetime(2020, 5, 10, 23), date(2021, 5, 10)) == 12


def test_checked_trees_are_cached_by_source() -> None:
    source = "nombre_enfants * 7 == 21  # unique to this test"
    source = source.split("#")[0]
    before = expressions._checked_expression.cache_info().hits
    for _ in range(5):
        assert evaluate(source, CONTEXT) is True
    assert expressions._checked_expression.cache_info().hits >= before + 4


# --- scripts -------------------------------------------------------------------------------


def test_script_assigns_names_in_order_and_returns_only_them() -> None:
    script = """
        age = age_in_months(enfants[0]['naissance'], le_jour)

        # a comment is fine
        tranche = 'bébé' if age < 36 else 'grand'
        message = f'{tranche} ({age} mois)'
        total = (
            nombre_enfants
            + 1
        )
    """
    assert evaluate_assignments(script, CONTEXT) == {
        "age": 33,
        "tranche": "bébé",
        "message": "bébé (33 mois)",
        "total": 4,
    }


def test_script_may_shadow_a_context_name() -> None:
    assert evaluate_assignments("zero = zero + 1\nun = zero", CONTEXT) == {"zero": 1, "un": 1}


def test_empty_script_assigns_nothing() -> None:
    check_script("")
    assert evaluate_assignments("\n  \n", CONTEXT) == {}


HOSTILE_SCRIPTS: list[tuple[str, str]] = [
    ("import os", "import is not allowed"),
    ("from os import system", "import is not allowed"),
    ("x = 1; y = 2", "one assignment per line"),
    ("x += 1", "only 'name = expression' lines are allowed"),
    ("x = y = 1", "only 'name = expression' lines are allowed"),
    ("x, y = 1, 2", "only 'name = expression' lines are allowed"),
    ("foyer['a'] = 1", "only 'name = expression' lines are allowed"),
    ("foyer.a = 1", "only 'name = expression' lines are allowed"),
    ("x: int = 1", "only 'name = expression' lines are allowed"),
    ("_x = 1", "assignment to '_x' is not allowed"),
    ("__builtins__ = {}", "assignment to '__builtins__' is not allowed"),
    ("def f():\n    return 1", "only 'name = expression' lines are allowed"),
    ("class A:\n    pass", "only 'name = expression' lines are allowed"),
    ("for x in codes:\n    y = x", "only 'name = expression' lines are allowed"),
    ("while True:\n    pass", "only 'name = expression' lines are allowed"),
    ("open('/tmp/x', 'w')", "only 'name = expression' lines are allowed"),
    ("del foyer", "only 'name = expression' lines are allowed"),
    ("x = __import__('os')", "call to '__import__' is not allowed"),
    ("x = ().__class__.__bases__", "attribute access to '__bases__' is not allowed"),
    ("x = [c for c in codes]", "comprehension is not allowed"),
    ("x = 1\n  y = 2", "syntax error"),
    ("x = 'a' * 10**9", "the ** operator is not allowed"),
    ("x = 1\n" * 6000, "script longer than 10000 characters"),
]


@pytest.mark.parametrize(("script", "message"), HOSTILE_SCRIPTS)
def test_hostile_script_is_refused(script: str, message: str) -> None:
    with pytest.raises(UnsafeExpression, match=re.escape(message)):
        check_script(script)
    with pytest.raises(UnsafeExpression):
        evaluate_assignments(script, CONTEXT)


def test_script_cannot_grow_values_line_by_line() -> None:
    doubling = "a = 1000000000000\n" + "a = a * a\n" * 10
    with pytest.raises(UnsafeExpression, match="integer result over 256 bits"):
        evaluate_assignments(doubling, {})
    aliasing = "a = [0] * 50000\nb = [a, a, a]\nc = str(b)"
    with pytest.raises(UnsafeExpression, match="larger than 100000"):
        evaluate_assignments(aliasing, {})


# --- properties ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=200))
def test_any_text_is_either_accepted_or_refused_as_unsafe(source: str) -> None:
    with contextlib.suppress(UnsafeExpression):
        check_expression(source)


TOKENS = [
    "nombre_enfants", "nom", "codes", "foyer", "le_jour", "enfants", "zero", "secret", "x",
    "0", "1", "-1", "2.5", "1000000000000", "'a'", "'commune'", "None", "True",
    "+", "-", "*", "/", "//", "%", "**", "==", "<", ">=", " in ", " not ", " and ", " or ",
    " is ", " if ", " else ", "(", ")", "[", "]", "{", "}", ":", ",", ".", "=",
    "lower()", "get", "year", "__class__", "__globals__", "format", "strip()",
    "len", "sorted", "int", "str", "round", "min", "age_in_months", "open", "lambda ",
    "f'{", "}'", "'",
]  # fmt: skip


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=12).map("".join))
def test_evaluation_of_token_soup_only_fails_with_our_errors(source: str) -> None:
    try:
        evaluate(source, CONTEXT)
    except (UnsafeExpression, ExpressionError) as err:
        assert SECRET not in str(err)


# --- SpiffWorkflow -------------------------------------------------------------------------


def diagram(script: str, condition: str, otherwise: str) -> str:
    """A process: a script task, then an exclusive gateway choosing crèche or école."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  id="Definitions_orientation" targetNamespace="https://example.test/bpmn">
  <bpmn:process id="orientation" isExecutable="true">
    <bpmn:startEvent id="Debut"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="calculer" name="Calculer l'âge">
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
      <bpmn:script>{escape(script)}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="Debut" targetRef="calculer" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="calculer" targetRef="Gateway_age" />
    <bpmn:exclusiveGateway id="Gateway_age">
      <bpmn:incoming>Flow_2</bpmn:incoming>
      <bpmn:outgoing>Flow_creche</bpmn:outgoing>
      <bpmn:outgoing>Flow_ecole</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="Flow_creche" sourceRef="Gateway_age" targetRef="creche">
      <bpmn:conditionExpression>{escape(condition)}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_ecole" sourceRef="Gateway_age" targetRef="ecole">
      <bpmn:conditionExpression>{escape(otherwise)}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:scriptTask id="creche">
      <bpmn:incoming>Flow_creche</bpmn:incoming>
      <bpmn:outgoing>Flow_3</bpmn:outgoing>
      <bpmn:script>branche = 'crèche'</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:scriptTask id="ecole">
      <bpmn:incoming>Flow_ecole</bpmn:incoming>
      <bpmn:outgoing>Flow_4</bpmn:outgoing>
      <bpmn:script>branche = 'école'</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="Flow_3" sourceRef="creche" targetRef="Fin" />
    <bpmn:sequenceFlow id="Flow_4" sourceRef="ecole" targetRef="Fin" />
    <bpmn:endEvent id="Fin">
      <bpmn:incoming>Flow_3</bpmn:incoming>
      <bpmn:incoming>Flow_4</bpmn:incoming>
    </bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


AGE_SCRIPT = """
    age = age_in_months(naissance, le_jour)
    petit = age < 36
"""


def run(xml: str, data: dict[str, Any], engine: PythonScriptEngine) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(xml.encode())
    workflow = BpmnWorkflow(parser.get_spec("orientation"), script_engine=engine)
    start = workflow.get_next_task(state=TaskState.READY)
    assert start is not None
    start.data.update(data)
    workflow.do_engine_steps()
    return workflow


@pytest.mark.parametrize(
    ("naissance", "branche"), [(date(2023, 6, 1), "crèche"), (date(2019, 6, 1), "école")]
)
def test_gateway_takes_the_branch_its_condition_chooses(naissance: date, branche: str) -> None:
    xml = diagram(AGE_SCRIPT, "petit and age >= 0", "not petit")
    data = {"naissance": naissance, "le_jour": date(2025, 1, 10)}
    workflow = run(xml, data, RestrictedScriptEngine())
    assert workflow.is_completed()
    assert workflow.data["branche"] == branche
    assert "petit" in workflow.data


def test_engine_never_runs_python_code_from_the_diagram(monkeypatch: pytest.MonkeyPatch) -> None:
    real_compile = builtins.compile

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("Python's eval/exec was called")

    def ast_only(source: Any, filename: Any, mode: Any, flags: int = 0, **kwargs: Any) -> Any:
        # ast.parse compiles to a tree only; a code object would be something to run.
        if not flags & ast.PyCF_ONLY_AST:
            raise AssertionError("compile() to code was called")
        return real_compile(source, filename, mode, flags, **kwargs)

    xml = diagram(AGE_SCRIPT + "\n    jamais_vu = 'unique à ce test'", "petit", "not petit")
    data = {"naissance": date(2023, 6, 1), "le_jour": date(2025, 1, 10)}
    with monkeypatch.context() as patch:
        patch.setattr(builtins, "eval", refuse)
        patch.setattr(builtins, "exec", refuse)
        patch.setattr(builtins, "compile", ast_only)
        workflow = run(xml, data, RestrictedScriptEngine())
    assert workflow.data["branche"] == "crèche"


HOSTILE_CONDITIONS = [
    "__import__('os').system('touch {marker}') == 0",
    "__import__('pathlib').Path('{marker}').touch() is None",
    "().__class__.__bases__[0].__subclasses__() and '{marker}'",
    "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0]"
    "(['touch', '{marker}'])",
    "open('{marker}', 'w')",
]


@pytest.mark.parametrize("condition", HOSTILE_CONDITIONS)
def test_hostile_condition_fails_safely(condition: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    xml = diagram("petit = True", condition.format(marker=marker), "False")
    with pytest.raises(WorkflowTaskException) as failed:
        run(xml, {}, RestrictedScriptEngine())
    assert isinstance(failed.value.__cause__, UnsafeExpression)
    assert failed.value.error_type == "UnsafeExpression"
    assert not marker.exists()


def test_hostile_script_task_fails_safely(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    script = f"x = __import__('pathlib').Path('{marker}').touch()"
    with pytest.raises(WorkflowTaskException, match=r"Error in script: .* is not allowed"):
        run(diagram(script, "True", "False"), {}, RestrictedScriptEngine())
    assert not marker.exists()


def test_default_engine_would_have_run_the_condition(tmp_path: Path) -> None:
    """The control: the marker check above does detect code running in a condition."""
    marker = tmp_path / "pwned"
    condition = f"__import__('pathlib').Path('{marker}').touch() is None"
    run(diagram("petit = True", condition, "False"), {}, PythonScriptEngine())
    assert marker.exists()


def test_runtime_failure_in_condition_is_a_workflow_task_exception() -> None:
    xml = diagram("petit = True", "inconnu > 1", "False")
    with pytest.raises(WorkflowTaskException, match="unknown name 'inconnu'") as failed:
        run(xml, {}, RestrictedScriptEngine())
    assert failed.value.error_type == "ExpressionError"


def test_process_level_evaluation_goes_through_the_restricted_environment() -> None:
    engine = RestrictedScriptEngine()
    assert engine.environment.evaluate("a + b", {"a": 1}, {"b": 2}) == 3
    with pytest.raises(UnsafeExpression):
        engine.environment.evaluate("__import__('os')", {})
    context: dict[str, object] = {"a": 1}
    assert engine.environment.execute("b = a + 1", context) is True
    assert context == {"a": 1, "b": 2}


def test_engine_refuses_an_eval_environment() -> None:
    engine = RestrictedScriptEngine()
    with pytest.raises(TypeError, match="RestrictedEnvironment"):
        engine.environment = TaskDataEnvironment()


def test_engine_validate_uses_the_static_check() -> None:
    engine = RestrictedScriptEngine()
    engine.validate("a < 5")
    with pytest.raises(UnsafeExpression):
        engine.validate("__import__('os')")
