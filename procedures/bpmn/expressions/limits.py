"""Resource limits on diagram code, and the errors the evaluator raises."""

from __future__ import annotations

MAX_SOURCE_LENGTH = 2_000
MAX_SCRIPT_LENGTH = 10_000
MAX_NODES = 500
MAX_DEPTH = 60
MAX_INT_CONSTANT = 10**12
MAX_STR_CONSTANT = 10_000
MAX_SIZE = 100_000  # items and characters in any value the evaluator builds
MAX_INT_BITS = 256
MAX_ROUND_DIGITS = 15

# The budget of one run (one submit or one step of a demande, one test run of a draft): every
# condition and script it evaluates draws on it. A node evaluated costs one step (about 1.4 µs),
# an item or character an operation reads one step, a task the engine runs or creates by itself
# (gateway, script, event: about 1 ms of SpiffWorkflow's own work) ENGINE_TASK_STEPS. The runs
# of the built-in diagrams spend at most 10,100 steps (10 engine tasks) and build nothing
# larger than a few items; the attacks of tests/procedures/bpmn/test_budget.py stop within 0.5 s.
MAX_RUN_STEPS = 500_000
ENGINE_TASK_STEPS = 1_000
MAX_RUN_SIZE = 1_000_000  # items and characters of every value built during the run, summed
MAX_TASK_DATA = 200_000  # items and characters of a task's data after each script


class UnsafeExpression(Exception):
    """The source uses a construct we refuse, or would exhaust a resource limit."""


class ExpressionError(Exception):
    """A safe expression failed on its data (unknown name, wrong type, division by zero)."""


class ScriptBudgetExceeded(UnsafeExpression):
    """One run of a diagram spent more than its budget: `task_name` was running when it did.

    The message names the limit and the diagram element, never the data.
    """

    def __init__(self, limit: str, task_name: str, steps: int, size: int) -> None:
        where = f" in '{task_name}'" if task_name else ""
        super().__init__(f"the run exceeds its budget{where}: {limit}")
        self.task_name = task_name
        self.steps = steps
        self.size = size
