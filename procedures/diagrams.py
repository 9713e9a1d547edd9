"""Loading a BPMN diagram safely and checking it before anything runs.

The XML is parsed by a hardened lxml parser (no DTD, no entities, no network, size cap),
so external entities and entity expansion bombs are refused before SpiffWorkflow sees the
tree. Then every problem is collected, each naming its element, in French for the
administrators who read them: unsupported elements, user tasks outside a lane, lanes
without a service, unknown service operations, unsafe expressions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from procedures.expressions import UnsafeExpression, check_expression, check_script

MAX_DIAGRAM_BYTES = 5 * 1024 * 1024
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN, "spiffworkflow": SPIFF}

# What a process may contain. Anything else is refused by name rather than half-supported.
SUPPORTED = frozenset(
    {
        "startEvent", "endEvent", "userTask", "manualTask", "serviceTask", "scriptTask", "task",
        "exclusiveGateway", "parallelGateway", "inclusiveGateway", "boundaryEvent",
        "intermediateCatchEvent", "intermediateThrowEvent", "sequenceFlow", "laneSet", "lane",
        "flowNodeRef", "conditionExpression", "extensionElements", "documentation", "incoming",
        "outgoing", "timerEventDefinition", "timeDuration", "timeDate", "escalationEventDefinition",
        "terminateEventDefinition", "textAnnotation", "association", "text", "script",
        "signalEventDefinition", "messageEventDefinition", "errorEventDefinition",
    }
)  # fmt: skip
HUMAN_TASKS = ("userTask", "manualTask")
# Names SpiffWorkflow gives its own task specs: an element with one of them breaks the graph.
RESERVED_IDS = frozenset({"Start", "End", "Root"})


@dataclass(frozen=True)
class Problem:
    """One reason a diagram is refused, naming its element."""

    element: str
    message: str

    def __str__(self) -> str:
        return f"{self.element} : {self.message}" if self.element else self.message


class DiagramRejected(Exception):
    """The diagram cannot be used; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class HumanTask:
    id: str
    name: str
    lane: str | None


@dataclass
class Diagram:
    """A checked diagram: its process spec for SpiffWorkflow and what the engine needs."""

    process_id: str
    spec: Any = field(repr=False)
    subprocess_specs: dict[str, Any] = field(repr=False)
    lanes: list[str]
    human_tasks: list[HumanTask]


def parse_xml(content: bytes) -> etree._Element:
    """Parse BPMN XML refusing DTDs, entities, network access and oversized input."""
    if len(content) > MAX_DIAGRAM_BYTES:
        raise DiagramRejected([Problem("", "le fichier dépasse 5 Mo, ce n'est pas un diagramme")])
    if b"<!DOCTYPE" in content or b"<!ENTITY" in content:
        raise DiagramRejected([Problem("", "les déclarations DOCTYPE et ENTITY sont refusées")])
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        line = getattr(exc, "lineno", "?")
        raise DiagramRejected([Problem("", f"XML illisible (ligne {line})")]) from None
    if root.tag != f"{{{BPMN}}}definitions":
        raise DiagramRejected([Problem("", "ce fichier n'est pas un diagramme BPMN 2.0")])
    return root


def load_diagram(
    content: bytes,
    lane_services: Mapping[str, str],
    operations: Collection[str],
    filename: str = "diagramme.bpmn",
) -> Diagram:
    """Parse and check a diagram; raise DiagramRejected listing every problem."""
    root = parse_xml(content)
    processes = root.findall("bpmn:process", NS)
    executable = [p for p in processes if p.get("isExecutable", "true") != "false"] or processes
    if len(executable) != 1:
        raise DiagramRejected([Problem("", "le diagramme doit contenir un seul processus")])
    process = executable[0]
    problems = list(check_process(process, lane_services, operations))
    spec, subprocesses = _spiff_spec(root, process, filename, problems)
    if problems:
        raise DiagramRejected(problems)
    return Diagram(
        process_id=process.get("id", ""),
        spec=spec,
        subprocess_specs=subprocesses,
        lanes=[lane.get("name", "") for lane in process.iter(f"{{{BPMN}}}lane")],
        human_tasks=list(_human_tasks(process)),
    )


def _spiff_spec(
    root: etree._Element, process: etree._Element, filename: str, problems: list[Problem]
) -> tuple[Any, dict[str, Any]]:
    parser = SpiffBpmnParser()
    try:
        parser.add_bpmn_xml(root, filename)
        process_id = process.get("id", "")
        return parser.get_spec(process_id), parser.get_subprocess_specs(process_id)
    except ValidationException as exc:
        element = f"{exc.tag} « {exc.name or exc.id} »" if exc.tag else ""
        problems.append(Problem(element, f"refusé par le moteur : {_first_line(exc)}"))
    except SpiffWorkflowException as exc:
        problems.append(Problem("", f"refusé par le moteur : {_first_line(exc)}"))
    return None, {}


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def check_process(
    process: etree._Element, lane_services: Mapping[str, str], operations: Collection[str]
) -> Iterator[Problem]:
    """Every problem of one process element."""
    for element in process.iter():
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions
        yield from _check_element(element, operations)
    yield from _check_lanes(process, lane_services)
    yield from _check_id_clashes(process)


def _check_id_clashes(process: etree._Element) -> Iterator[Problem]:
    """SpiffWorkflow indexes extension elements by id too: a clash breaks the parse."""
    extension_ids = {
        node.get("id") for node in process.iter(f"{{{SPIFF}}}*") if node.get("id") is not None
    }
    for element in process.iter(f"{{{BPMN}}}*"):
        if element.get("id") in extension_ids:
            yield Problem(
                _label(element),
                f"l'identifiant « {element.get('id')} » est aussi celui d'une opération "
                "ou d'un paramètre : renommez l'élément",
            )


def _check_element(element: etree._Element, operations: Collection[str]) -> Iterator[Problem]:
    namespace, _, tag = element.tag[1:].partition("}")
    if namespace == BPMN and tag != "process" and tag not in SUPPORTED:
        yield Problem(_label(element), "élément BPMN non pris en charge")
        return
    element_id = element.get("id", "")
    if namespace == BPMN and (element_id in RESERVED_IDS or element_id.endswith(".EndJoin")):
        yield Problem(_label(element), f"l'identifiant « {element_id} » est réservé par le moteur")
    if namespace == BPMN and tag == "conditionExpression":
        yield from _check_code(element.getparent(), element.text or "", check_expression)
    elif namespace == BPMN and tag == "script":
        yield from _check_code(element.getparent(), element.text or "", check_script)
    elif namespace == SPIFF and tag in ("preScript", "postScript"):
        yield from _check_code(_owner(element), element.text or "", check_script)
    elif namespace == SPIFF and tag == "serviceTaskOperator":
        yield from _check_operation(element, operations)


def _check_code(
    element: etree._Element | None, code: str, check: Callable[[str], None]
) -> Iterator[Problem]:
    try:
        check(code)
    except UnsafeExpression as exc:
        yield Problem(_label(element), f"expression refusée : {exc}")


def _check_operation(element: etree._Element, operations: Collection[str]) -> Iterator[Problem]:
    name = element.get("id", "")
    owner = _owner(element)
    if name not in operations:
        yield Problem(_label(owner), f"opération de service inconnue « {name} »")
    for parameter in element.iterfind("spiffworkflow:parameters/spiffworkflow:parameter", NS):
        yield from _check_code(owner, parameter.get("value", ""), check_expression)


def _check_lanes(process: etree._Element, lane_services: Mapping[str, str]) -> Iterator[Problem]:
    lane_of: dict[str, str] = {}
    for lane in process.iter(f"{{{BPMN}}}lane"):
        name = lane.get("name", "")
        if name not in lane_services:
            yield Problem(_label(lane), "ce couloir n'est rattaché à aucun service")
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            lane_of[(ref.text or "").strip()] = name
    for tag in HUMAN_TASKS:
        for task in process.iter(f"{{{BPMN}}}{tag}"):
            if task.get("id") not in lane_of:
                yield Problem(_label(task), "tâche humaine hors de tout couloir")


def _human_tasks(process: etree._Element) -> Iterator[HumanTask]:
    lane_of = {
        (ref.text or "").strip(): lane.get("name", "")
        for lane in process.iter(f"{{{BPMN}}}lane")
        for ref in lane.iterfind("bpmn:flowNodeRef", NS)
    }
    for tag in HUMAN_TASKS:
        for task in process.iter(f"{{{BPMN}}}{tag}"):
            task_id = task.get("id", "")
            yield HumanTask(task_id, task.get("name") or task_id, lane_of.get(task_id))


def _owner(element: etree._Element) -> etree._Element | None:
    """The flow element an extension belongs to (the parent of its extensionElements)."""
    node: etree._Element | None = element
    while node is not None and not node.tag.endswith("}extensionElements"):
        node = node.getparent()
    return node.getparent() if node is not None else None


def _label(element: etree._Element | None) -> str:
    if element is None:
        return ""
    tag = element.tag.rpartition("}")[2]
    name = element.get("name") or element.get("id") or ""
    return f"{tag} « {name} »" if name else tag
