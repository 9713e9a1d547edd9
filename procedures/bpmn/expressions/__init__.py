"""Diagram conditions and scripts, evaluated by a whitelist of syntax: never Python's eval.

SpiffWorkflow's default engine runs a diagram's code with `eval`/`exec`, so a condition
such as `__import__('os').system(...)` would run. Here the source is parsed with `ast`,
every node checked against a whitelist (`check_expression`), then the tree is walked by
our own evaluator over plain data (`evaluate`). Script tasks may only assign names
(`evaluate_assignments`). `RestrictedScriptEngine` plugs this into SpiffWorkflow.

Choices: no comprehensions or lambdas (a condition needs neither, and they bring scopes
and unbounded loops); f-strings without format specifications; no `**`; no `%` on
strings; methods and attributes only from a per-type whitelist, called through the base
type so a subclass cannot widen them. Every run (one step of a demande, one test run)
shares a `Budget` of steps and size across all it evaluates (`budget.py`).
"""

from __future__ import annotations

from procedures.bpmn.expressions.budget import Budget
from procedures.bpmn.expressions.checks import _checked_expression as _checked_expression
from procedures.bpmn.expressions.checks import check_expression, check_script
from procedures.bpmn.expressions.evaluator import evaluate, evaluate_assignments
from procedures.bpmn.expressions.helpers import age_in_months
from procedures.bpmn.expressions.limits import (
    ExpressionError,
    ScriptBudgetExceeded,
    UnsafeExpression,
)
from procedures.bpmn.expressions.spiff import RestrictedScriptEngine

__all__ = [
    "Budget",
    "ExpressionError",
    "RestrictedScriptEngine",
    "ScriptBudgetExceeded",
    "UnsafeExpression",
    "age_in_months",
    "check_expression",
    "check_script",
    "evaluate",
    "evaluate_assignments",
]
