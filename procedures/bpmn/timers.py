"""Timer events on the portal's clock and working days.

SpiffWorkflow's timers read `datetime.now()` when they start waiting and each time they are
refreshed. Ours read the run's clock (`RestrictedScriptEngine.now`, the demande services'
clock: tests and the worker agree on the time) and understand a duration in working days,
"5 jours ouvrés", counted on the town's calendar, beside ISO 8601 durations ("P5D", "PT2H"),
dates and cycles ("R3/P5D"). Another modeler's unquoted `P5D` is read as the literal it means.

`clock_timers` swaps the timer definitions of a freshly parsed spec for ours; `wakes_at`
tells when a workflow's next timer falls due, for the worker to wake it then.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState

WORKING_DAYS = re.compile(r"^\s*(\d{1,3})\s+jours?\s+ouvr[ée]s?\s*$", re.IGNORECASE)
# What other modelers write unquoted: an ISO 8601 duration, date-time or repetition.
ISO_LITERAL = re.compile(
    r"^(R\d*/)?(P[0-9YMWDTHS.]+|\d{4}-\d{2}-\d{2}[0-9T:.+\-Z]*)(/P[0-9YMWDTHS.]+)?$"
)


class TimerError(ValueError):
    """A timer whose value is neither a duration, a date nor a number of working days."""


def is_literal(expression: str) -> bool:
    """Whether a timer's text is a value as it stands, not an expression to evaluate."""
    text = expression.strip()
    return bool(ISO_LITERAL.match(text) or WORKING_DAYS.match(text))


def timer_value(task: Any, expression: str) -> Any:
    """The timer's expression evaluated by the run's engine (or read as an ISO literal)."""
    if is_literal(expression):
        return expression.strip()
    return task.workflow.script_engine.evaluate(task, expression)


def deadline(engine: Any, value: Any, start: datetime) -> datetime:
    """When a duration timer started at `start` falls due."""
    if not isinstance(value, str):
        raise TimerError(f"timer value is not text (got a {type(value).__name__})")
    days = WORKING_DAYS.match(value)
    if days:
        return engine.add_working_days(start, int(days.group(1)))
    try:
        parsed = TimerEventDefinition.parse_iso_duration(value)
        return start + TimerEventDefinition.get_timedelta_from_start(parsed, start)
    except (ValueError, TypeError, AttributeError) as exc:
        raise TimerError(f"'{value[:40]}' is not an ISO 8601 duration") from exc


def _at(value: Any) -> datetime:
    if isinstance(value, datetime):
        instant = value
    else:
        try:
            instant = datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise TimerError(f"'{str(value)[:40]}' is not an ISO 8601 date") from exc
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


class ClockedTimeDate(TimeDateEventDefinition):
    """A timer at a date, fired on the run's clock."""

    def has_fired(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            event_value = _at(timer_value(my_task, self.expression)).isoformat()
            my_task._set_internal_data(event_value=event_value)
        if _at(event_value) <= my_task.workflow.script_engine.now():
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))


class ClockedDuration(DurationTimerEventDefinition):
    """A timer after a duration (ISO 8601 or working days), fired on the run's clock."""

    def has_fired(self, my_task: Any) -> bool:
        engine = my_task.workflow.script_engine
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            value = timer_value(my_task, self.expression)
            event_value = deadline(engine, value, engine.now()).isoformat()
            my_task._set_internal_data(event_value=event_value)
        if _at(event_value) <= engine.now():
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))


class ClockedCycle(CycleTimerEventDefinition):
    """A repeating timer ("R3/P5D": three times, every five days), on the run's clock."""

    def cycle_complete(self, my_task: Any) -> bool:
        engine = my_task.workflow.script_engine
        now = engine.now()
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            value = str(timer_value(my_task, self.expression))
            repeat, _, period = value.partition("/")
            if not repeat.startswith("R") or not period:
                raise TimerError(f"'{value[:40]}' is not a repetition such as R3/P5D")
            cycles = int(repeat[1:] or -1)
            first = deadline(engine, period, now)
            event_value = {
                "cycles": cycles,
                "next": first.isoformat(),
                "duration": (first - now).total_seconds(),
            }
        ready = False
        if event_value["cycles"] != 0:
            upcoming = _at(event_value["next"])
            if upcoming <= now:
                event_value["next"] = (
                    upcoming + timedelta(seconds=event_value["duration"])
                ).isoformat()
                event_value["cycles"] -= 1
                ready = True
        else:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
            return False
        my_task._set_internal_data(event_value=event_value)
        return ready


CLOCKED = {
    TimeDateEventDefinition: ClockedTimeDate,
    DurationTimerEventDefinition: ClockedDuration,
    CycleTimerEventDefinition: ClockedCycle,
}


def clock_timers(spec: Any, subprocess_specs: Mapping[str, Any]) -> None:
    """Put our timer definitions in place of SpiffWorkflow's in a freshly parsed spec."""
    for process in (spec, *subprocess_specs.values()):
        for task_spec in process.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            for item in _definitions(definition):
                clocked = CLOCKED.get(type(item))
                if clocked is not None:
                    item.__class__ = clocked


def _definitions(definition: Any) -> Iterable[Any]:
    if definition is None:
        return ()
    return (definition, *getattr(definition, "event_definitions", ()))


def wakes_at(workflow: Any) -> datetime | None:
    """When the workflow's next waiting timer falls due (None: no timer is waiting)."""
    times = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        for item in _definitions(getattr(task.task_spec, "event_definition", None)):
            if not isinstance(item, TimerEventDefinition):
                continue
            value = task._get_internal_data("event_value")
            if isinstance(value, dict):
                value = value.get("next") if value.get("cycles") != 0 else None
            if value is not None:
                times.append(_at(value))
    return min(times, default=None)
