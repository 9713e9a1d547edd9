"""Importing a `.bpmn` file made by another tool (Camunda Modeler, Signavio, bpmn.io...).

The file is read through the hardened parser of `procedures.bpmn.diagrams` and put through the
engine's own checks, so what is accepted here is what the engine can run once its lanes are
mapped to services (that mapping is procedure metadata, edited after the import: an unmapped
lane is a warning, not a refusal). Whatever the bytes hold, the answer is an `ImportResult`:
accepted with the normalised XML and what the diagram holds, or refused with the reasons, each
a stable code and a French message naming the element (and its id, to highlight it).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Service
from procedures.bpmn.diagrams import (
    BPMN,
    MAX_DIAGRAM_BYTES,
    NS,
    DiagramRejected,
    Problem,
    called_processes,
    check_process,
    engine_problems,
    main_process,
    parse_xml,
)
from procedures.definitions import FAMILY_LANE
from procedures.operations.registry import OPERATIONS

MAX_IMPORT_BYTES = MAX_DIAGRAM_BYTES
TO_COMPLETE = frozenset({"task_outside_lane", "decision_missing"})
MAX_REASONS = 50  # a diagram from another world can hold hundreds of problems; the first tell
# Definitions a diagram may hold beside its process: referenced by supported elements, or inert.
ROOT_ELEMENTS = frozenset(
    {
        "process", "collaboration", "message", "signal", "error", "escalation", "itemDefinition",
        "resource", "import", "interface", "dataStore", "category", "relationship", "extension",
        "documentation", "extensionElements",
    }
)  # fmt: skip
COLLABORATION_ELEMENTS = frozenset(
    {
        "participant", "messageFlow", "textAnnotation", "association", "group", "documentation",
        "extensionElements",
    }
)  # fmt: skip


class Reason(NamedTuple):
    """Why a diagram is refused (or what to fix after importing it)."""

    code: str
    message: str
    element_id: str = ""


@dataclass(frozen=True)
class LaneFound:
    id: str
    name: str
    service: str | None  # the service code the lane is named after, if any


@dataclass(frozen=True)
class UserTaskFound:
    id: str
    name: str
    lane: str | None


@dataclass(frozen=True)
class ProcessFound:
    id: str
    name: str
    lanes: list[LaneFound]
    user_tasks: list[UserTaskFound]


@dataclass(frozen=True)
class ImportResult:
    """The answer to an import: `xml` (normalised, UTF-8) only when accepted."""

    filename: str
    accepted: bool
    reasons: list[Reason] = field(default_factory=list)
    warnings: list[Reason] = field(default_factory=list)
    processes: list[ProcessFound] = field(default_factory=list)
    xml: str | None = field(default=None, repr=False)


def service_codes(session: Session) -> list[str]:
    """The codes of the town's services, to match an imported diagram's lanes against."""
    return list(session.scalars(select(Service.code).order_by(Service.code)))


def import_stream(
    stream: BinaryIO, *, filename: str, services: Collection[str] | None
) -> ImportResult:
    """Import from a file object, reading at most one byte more than the size limit."""
    return import_diagram(stream.read(MAX_IMPORT_BYTES + 1), filename=filename, services=services)


def import_diagram(data: bytes, *, filename: str, services: Collection[str] | None) -> ImportResult:
    """Accept or refuse a third-party diagram; never raises, whatever `data` holds.

    `services`: the known service codes, to propose a service for each lane named after one
    (None: lanes are not matched).
    """
    if len(data) > MAX_IMPORT_BYTES:
        limit = MAX_IMPORT_BYTES // (1024 * 1024)
        message = f"le fichier dépasse {limit} Mo, ce n'est pas un diagramme"
        return ImportResult(filename, False, [Reason("too_large", message)])
    try:
        root = parse_xml(data)
    except DiagramRejected as exc:
        return ImportResult(filename, False, _reasons(exc.problems))
    return _import_tree(root, filename, services)


def _import_tree(
    root: etree._Element, filename: str, services: Collection[str] | None
) -> ImportResult:
    chosen = list(_one_executable(root))
    main, problems = main_process(root)
    yield_called: list[Problem] = []
    processes = [main, *called_processes(root, main, yield_called)] if main is not None else []
    lanes = {process: _lanes(process, services) for process in processes}
    lane_services = {
        lane.name: lane.service or "" for found in lanes.values() for lane in found
    }  # every lane passes here: the mapping is metadata, checked at publication
    problems += yield_called
    problems += _unsupported_children(root, ROOT_ELEMENTS)
    for collaboration in root.findall("bpmn:collaboration", NS):
        problems += _unsupported_children(collaboration, COLLABORATION_ELEMENTS)
    for index, process in enumerate(processes):
        problems.extend(check_process(process, lane_services, OPERATIONS.keys(), called=index > 0))
    problems += _decision_tasks(processes)
    unmapped = [lane for found_lanes in lanes.values() for lane in found_lanes if not lane.service]
    warnings = [_unmapped(lane) for lane in unmapped] if services is not None else []
    warnings = chosen + warnings
    # What the portal needs beside what the engine runs (lanes, decision tables) is for the
    # draft to complete: the designer lists it and publication refuses until it is done.
    warnings += _reasons([p for p in problems if p.code in TO_COMPLETE])
    problems = [p for p in problems if p.code not in TO_COMPLETE]
    if not problems and main is not None:  # the engine's own parser, on what passed above
        warnings.extend(_made_executable(main))
        problems = engine_problems(root, main, filename)
    found = [_process_found(process, lanes[process]) for process in processes]
    if problems:
        return ImportResult(filename, False, _reasons(problems), warnings, found)
    return ImportResult(filename, True, [], warnings, found, _normalised(root))


def _one_executable(root: etree._Element) -> Iterator[Reason]:
    """Several executable pools from another tool: the one with the most elements is run,
    the others (the customer, a partner) stay as pools that message flows reach."""
    called = {node.get("calledElement") for node in root.iter(f"{{{BPMN}}}callActivity")}
    candidates = [p for p in root.findall("bpmn:process", NS) if p.get("id") not in called]
    executable = [p for p in candidates if p.get("isExecutable", "true") != "false"]
    if len(executable) < 2:
        executable = executable or [p for p in candidates if _has_content(p)]
    if len(executable) < 2:
        return
    main = max(executable, key=lambda process: sum(1 for _ in process.iter()))
    yield from _made_executable(main)
    for process in executable:
        if process is not main:
            process.set("isExecutable", "false")
            message = (
                f"processus « {_name(process)} » : marqué non exécutable (le portail exécute "
                f"« {_name(main)} » ; celui-ci reste un participant du diagramme)"
            )
            yield Reason("made_not_executable", message, process.get("id", ""))


def _has_content(process: etree._Element) -> bool:
    return any(True for _ in process.iter(f"{{{BPMN}}}startEvent"))


def _decision_tasks(processes: list[etree._Element]) -> Iterator[Problem]:
    """A business rule task needs its decision table, which a `.bpmn` file does not carry:
    imported, it would fail to run; the designer adds the table, then the task."""
    for process in processes:
        for task in process.iter(f"{{{BPMN}}}businessRuleTask"):
            name = task.get("name") or task.get("id") or ""
            message = (
                "tâche de règle métier : sa table de décision (DMN) n'est pas dans le fichier ; "
                "ajoutez-la dans le concepteur (Tables de décision) avant de publier"
            )
            yield Problem(
                f"businessRuleTask « {name} »", message, "decision_missing", task.get("id", "")
            )


def _unsupported_children(parent: etree._Element, allowed: frozenset[str]) -> Iterator[Problem]:
    for child in parent.iterchildren(f"{{{BPMN}}}*"):
        tag = child.tag.rpartition("}")[2]
        if tag not in allowed:
            element_id = child.get("id", "")
            label = f"{tag} « {_name(child)} »" if _name(child) else tag
            message = f"élément BPMN non pris en charge (bpmn:{tag})"
            yield Problem(label, message, "unsupported_element", element_id)


def _lanes(process: etree._Element, services: Collection[str] | None) -> list[LaneFound]:
    known = {code.lower(): code for code in services or ()}
    known.setdefault(FAMILY_LANE, FAMILY_LANE)
    result = []
    for lane in process.iter(f"{{{BPMN}}}lane"):
        name, lane_id = lane.get("name", ""), lane.get("id", "")
        service = known.get(name.strip().lower()) or known.get(lane_id.lower())
        result.append(LaneFound(lane_id, name, service if services is not None else None))
    return result


def _made_executable(process: etree._Element) -> Iterator[Reason]:
    """Modelers mark a process not executable by default; importing it is asking to run it."""
    if process.get("isExecutable") != "true":
        process.set("isExecutable", "true")
        message = f"processus « {_name(process)} » : marqué exécutable"
        yield Reason("made_executable", message, process.get("id", ""))


def _unmapped(lane: LaneFound) -> Reason:
    message = f"lane « {lane.name or lane.id} » : à rattacher à un service avant de publier"
    return Reason("lane_without_service", message, lane.id)


def _process_found(process: etree._Element, lanes: list[LaneFound]) -> ProcessFound:
    lane_of = {
        (ref.text or "").strip(): lane.get("name", "")
        for lane in process.iter(f"{{{BPMN}}}lane")
        for ref in lane.iterfind("bpmn:flowNodeRef", NS)
    }
    tasks = [
        UserTaskFound(task.get("id", ""), _name(task), lane_of.get(task.get("id", "")))
        for tag in ("userTask", "manualTask")
        for task in process.iter(f"{{{BPMN}}}{tag}")
    ]
    return ProcessFound(process.get("id", ""), _name(process), lanes, tasks)


def _name(element: etree._Element) -> str:
    return element.get("name") or element.get("id") or ""


def _reasons(problems: list[Problem]) -> list[Reason]:
    reasons = [Reason(problem.code, str(problem), problem.element_id) for problem in problems]
    if len(reasons) > MAX_REASONS:
        more = len(reasons) - MAX_REASONS
        reasons = [*reasons[:MAX_REASONS], Reason("more", f"… et {more} autres problèmes")]
    return reasons


def _normalised(root: etree._Element) -> str:
    """UTF-8, without comments or processing instructions; the diagram layout is kept."""
    etree.strip_elements(root, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True).decode("utf-8")
