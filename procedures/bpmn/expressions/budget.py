"""What one run of a diagram may spend, shared by every condition and script it evaluates.

Each expression is small (`checks`) and each value it builds too (`MAX_SIZE`), but a diagram
may loop on itself and a script may walk its largest values again and again: without a bound
per run, one test run of a draft held a worker for 35 s of CPU, and one script wrote 67 MiB of
task data. The engine makes one `Budget` per run and the evaluator draws on it; past a limit
it raises `ScriptBudgetExceeded` and nothing of the run is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from procedures.bpmn.expressions.limits import (
    ENGINE_TASK_STEPS,
    MAX_RUN_SIZE,
    MAX_RUN_STEPS,
    MAX_TASK_DATA,
    ScriptBudgetExceeded,
)


def size_of(value: object, limit: int) -> int:
    """Items and characters reachable from `value`, shared parts counted each time they are
    reached (what str() or a comparison would walk); stops counting past `limit`."""
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        total += max(len(item), 1) if isinstance(item, str) else 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
    return total


@dataclass
class Budget:
    """The steps and the size one run has spent, against its limits."""

    max_steps: int = MAX_RUN_STEPS
    max_size: int = MAX_RUN_SIZE
    max_data: int = MAX_TASK_DATA
    steps: int = 0  # nodes evaluated, items read, engine tasks run (weighted)
    size: int = 0  # items and characters of the values built
    _tree_size: int = field(default=0, repr=False)
    task_name: str = ""  # the diagram element running now, named if the budget runs out

    def spend(self, steps: int) -> None:
        """Pay `steps`; past the limit the run stops."""
        self.steps += steps
        if self.steps > self.max_steps:
            raise self._exceeded(f"more than {self.max_steps} steps")

    def read(self, value: object) -> int:
        """Pay for walking `value` (its size, see `size_of`) and return that size."""
        # Never walk further than what is left: reading cannot itself overrun the budget.
        size = size_of(value, self.max_steps - self.steps)
        self.spend(size)
        return size

    def build(self, size: int) -> None:
        """Count a new value of `size` items and characters."""
        self.size += size
        if self.size > self.max_size:
            raise self._exceeded(f"values built of more than {self.max_size} items in all")

    def run_task(self, name: str, tree_size: int) -> None:
        """The engine runs a task by itself (gateway, script, event): pay for it and for the
        tasks it created since (`tree_size`: the workflow's tasks now). SpiffWorkflow walks
        its whole tree of tasks at each turn, and a parallel join compares every pair of
        waiting tasks: a diagram that forks in a loop grows the tree as fast as it runs."""
        created = max(tree_size - self._tree_size, 0) if self._tree_size else 0
        self._tree_size = tree_size
        self.task_name = name
        self.spend(ENGINE_TASK_STEPS * (1 + created))

    def check_data(self, data: Mapping[str, object]) -> None:
        """After a script: the task data it leaves is saved, copied to the next tasks."""
        size = size_of(data, self.max_data)
        self.spend(size)
        if size > self.max_data:
            raise self._exceeded(f"task data of more than {self.max_data} items")

    def _exceeded(self, limit: str) -> ScriptBudgetExceeded:
        return ScriptBudgetExceeded(limit, self.task_name, self.steps, self.size)
