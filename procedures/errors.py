"""The engine's domain errors; `web/` maps each to an HTTP status and a French message."""

from __future__ import annotations


class DemandeError(Exception):
    """Base of the errors raised on purpose by the demande services."""


class DemandeNotFound(DemandeError):
    """No such demande, or not one the actor may see."""


class NotAllowed(DemandeError):
    """The actor may not do this on this demande or task."""


class NotByHand(NotAllowed):
    """The step is completed by a mechanism of its own (`completed_by` in the procedure's
    metadata, e.g. the draw of a course's places), never by an agent's form or claim."""

    def __init__(self, task_id: int, completer: str) -> None:
        super().__init__(f"task {task_id} is completed by {completer!r}, not by hand")
        self.completer = completer


class InvalidTransition(DemandeError):
    """The demande is not in a state that allows this action."""


class ProcedureClosed(DemandeError):
    """The procedure is outside its opening window, or unknown."""


class Incomplete(DemandeError):
    """What is missing or wrong, as French sentences for the family."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the demande")
        self.problems = problems


class TaskConflict(DemandeError):
    """Someone else claimed or completed the task first, or the demande changed meanwhile."""
