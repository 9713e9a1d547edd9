"""The evaluator plugged into SpiffWorkflow, in place of its eval/exec engine."""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import BasePythonScriptEngineEnvironment, PythonScriptEngine

from procedures.bpmn.expressions.budget import Budget
from procedures.bpmn.expressions.checks import check_expression
from procedures.bpmn.expressions.evaluator import _Layers, evaluate, evaluate_assignments
from procedures.bpmn.expressions.limits import (
    ExpressionError,
    ScriptBudgetExceeded,
    UnsafeExpression,
)


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow's environment contract on our evaluator, drawing on one run's budget.

    The process spec calls `engine.environment.evaluate` directly (event subprocess and
    ad hoc completion conditions, message correlations), bypassing `engine.evaluate`.
    """

    def __init__(self, budget: Budget | None = None) -> None:
        super().__init__()
        self.budget = budget if budget is not None else Budget()

    def evaluate(
        self,
        expression: str,
        context: Mapping[str, object],
        external_context: Mapping[str, object] | None = None,
    ) -> object:
        return evaluate(expression, _Layers(context, external_context or {}), self.budget)

    def execute(
        self,
        script: str | None,
        context: dict[str, object],
        external_context: Mapping[str, object] | None = None,
    ) -> bool:
        layers = _Layers(context, external_context or {})
        context.update(evaluate_assignments(script or "", layers, self.budget))
        self.budget.check_data(context)
        return True

    def call_service(self, context: Mapping[str, object], **kwargs: object) -> str:
        raise NotImplementedError("service tasks need an engine that names its operations")


class RestrictedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine with every expression and script through our evaluator.

    Make one per run (one submit or one step of a demande, one test run): its `budget` is
    shared by everything the run evaluates and by every task the engine runs by itself.
    """

    def __init__(
        self,
        budget: Budget | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        working_days: Callable[[datetime, int], datetime] | None = None,
    ) -> None:
        super().__init__(environment=RestrictedEnvironment(budget))
        self._clock = clock
        self._working_days = working_days

    def now(self) -> datetime:
        """The run's time, which timers compare their deadline with (aware, UTC)."""
        return self._clock() if self._clock is not None else datetime.now(UTC)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """`days` working days after `start`: on the town's calendar when the run has one,
        else Monday to Friday."""
        if self._working_days is not None:
            return self._working_days(start, days)
        instant = start
        while days > 0:
            instant += timedelta(days=1)
            days -= instant.weekday() < 5
        return instant

    @property
    def environment(self) -> RestrictedEnvironment:
        return self._environment

    @environment.setter
    def environment(self, value: object) -> None:
        # Swapping in TaskDataEnvironment would bring Python's eval back.
        if not isinstance(value, RestrictedEnvironment):
            raise TypeError("RestrictedScriptEngine only runs a RestrictedEnvironment")
        self._environment = value

    @property
    def budget(self) -> Budget:
        return self.environment.budget

    def run_task(self, task: Any) -> None:
        """Pay for a task the engine is about to run by itself: `do_engine_steps`' callback."""
        self.budget.run_task(_name(task), len(task.workflow.tasks))

    def validate(self, expression: str) -> None:
        ast.parse(expression, mode="eval")  # a SyntaxError as SpiffWorkflow's DMN engine expects
        check_expression(expression)

    def evaluate(
        self, task: Any, expression: str, external_context: Mapping[str, object] | None = None
    ) -> object:
        self.budget.task_name = _name(task)
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except ScriptBudgetExceeded:
            raise  # not a fault of this expression: the caller stops the whole run
        except (UnsafeExpression, ExpressionError) as err:
            message = f"Error evaluating expression '{expression}': {err}"
            raise WorkflowTaskException(message, task=task, exception=err) from err

    def execute(
        self, task: Any, script: str | None, external_context: Mapping[str, object] | None = None
    ) -> bool:
        self.budget.task_name = _name(task)
        try:
            return self.environment.execute(script, task.data, external_context)
        except ScriptBudgetExceeded:
            raise
        except (UnsafeExpression, ExpressionError) as err:
            message = f"Error in script: {err}"
            raise WorkflowTaskException(message, task=task, exception=err) from err

    def call_service(self, task: Any, **kwargs: object) -> str:
        message = "service tasks need an engine that names its operations"
        raise WorkflowTaskException(message, task=task)


def _name(task: Any) -> str:
    """The diagram element a SpiffWorkflow task runs: its name, else its id."""
    spec = task.task_spec
    return str(getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or spec.name)
