"""Loading a BPMN diagram safely and checking it before anything runs.

The XML is parsed by a hardened lxml parser (no DTD, no entities, no network, size cap),
so external entities and entity expansion bombs are refused before SpiffWorkflow sees the
tree. Then every problem is collected, each naming its element, in French for the
administrators who read them, each with a stable code and the element's id: unsupported
elements, user tasks outside a lane, lanes without a service, unknown service operations,
unsafe expressions or other tools' expression languages, duplicate ids, broken flows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from procedures.bpmn.expressions import UnsafeExpression, check_expression, check_script

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
    """One reason a diagram is refused, naming its element (and its id, to highlight it)."""

    element: str
    message: str
    code: str = "invalid_diagram"  # stable, for programs; the message is for people
    element_id: str = ""

    def __str__(self) -> str:
        text = f"{self.element} : {self.message}" if self.element else self.message
        if self.element_id and f"« {self.element_id} »" not in self.element:
            text += f" (id {self.element_id})"
        return text


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
    # The SHA-256 of the BPMN source: a saved workflow names the diagram it runs on by it.
    source_sha256: str


class _NothingResolver(etree.Resolver):
    """Answers every request for an external resource with nothing: no file, no URL is read."""

    def resolve(self, system_url: str | None, public_id: str | None, context: Any) -> Any:
        return self.resolve_string("", context)


def _declares_dtd(content: bytes) -> bool:
    # The markers in every encoding an XML parser detects without a declaration.
    return any(
        marker.encode(encoding) in content
        for marker in ("<!DOCTYPE", "<!ENTITY")
        for encoding in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
    )


def _refused(code: str, message: str) -> DiagramRejected:
    return DiagramRejected([Problem("", message, code)])


def parse_xml(content: bytes) -> etree._Element:
    """Parse BPMN XML refusing DTDs, entities, network access and oversized input."""
    if len(content) > MAX_DIAGRAM_BYTES:
        raise _refused("too_large", "le fichier dépasse 5 Mo, ce n'est pas un diagramme")
    if _declares_dtd(content):
        raise _refused("doctype", "les déclarations DOCTYPE et ENTITY sont refusées")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    parser.resolvers.add(_NothingResolver())
    try:
        root = etree.fromstring(content, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or "?"
        raise _refused("malformed_xml", f"XML illisible (ligne {line})") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # declared in another encoding
        raise _refused("doctype", "les déclarations DOCTYPE et ENTITY sont refusées")
    if root.tag != f"{{{BPMN}}}definitions":
        raise _refused("not_bpmn", "ce fichier n'est pas un diagramme BPMN 2.0")
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
        raise _refused("process_count", "le diagramme doit contenir un seul processus")
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
        source_sha256=hashlib.sha256(content).hexdigest(),
    )


def engine_problems(root: etree._Element, process: etree._Element, filename: str) -> list[Problem]:
    """What SpiffWorkflow's own parser refuses in a process (run after the checks above)."""
    problems: list[Problem] = []
    _spiff_spec(root, process, filename, problems)
    return problems


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
        message = f"refusé par le moteur : {_first_line(exc)}"
        problems.append(Problem(element, message, "engine_refused", exc.id or ""))
    except SpiffWorkflowException as exc:
        problems.append(Problem("", f"refusé par le moteur : {_first_line(exc)}", "engine_refused"))
    except (KeyError, AttributeError, TypeError, ValueError, IndexError) as exc:
        # SpiffWorkflow's parser trusts its input; a diagram it cannot read is refused.
        message = f"refusé par le moteur : structure illisible ({type(exc).__name__})"
        problems.append(Problem("", message, "engine_refused"))
    return None, {}


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def check_process(
    process: etree._Element, lane_services: Mapping[str, str], operations: Collection[str]
) -> Iterator[Problem]:
    """Every problem of one process element."""
    for element in _elements(process):
        yield from _check_element(element, operations)
    yield from _check_lanes(process, lane_services)
    yield from _check_id_clashes(process)
    yield from _check_flows(process)


def _check_flows(process: etree._Element) -> Iterator[Problem]:
    """Ids unique, and every sequence flow joining two elements of the process."""
    ids: set[str] = set()
    for element in process.iter(f"{{{BPMN}}}*"):
        element_id = element.get("id")
        if element_id in ids:
            yield _problem(element, f"l'identifiant « {element_id} » est en double", "duplicate_id")
        elif element_id:
            ids.add(element_id)
    for flow in process.iter(f"{{{BPMN}}}sequenceFlow"):
        if flow.get("sourceRef") not in ids or flow.get("targetRef") not in ids:
            yield _problem(
                flow, "flux sans origine ou sans destination dans le processus", "broken_flow"
            )


def _elements(process: etree._Element) -> Iterator[etree._Element]:
    """The elements to check: an unsupported one without its children (it is named once),
    and inside extensionElements only the engine's own (other tools' extensions are inert)."""
    stack = [(child, False) for child in reversed(process)]
    while stack:
        element, in_extension = stack.pop()
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions
        namespace, _, tag = element.tag[1:].partition("}")
        if in_extension and namespace != SPIFF:
            continue
        yield element
        if namespace == BPMN and tag not in SUPPORTED:
            continue
        inside = in_extension or (namespace == BPMN and tag == "extensionElements")
        stack.extend((child, inside) for child in reversed(element))


def _check_id_clashes(process: etree._Element) -> Iterator[Problem]:
    """SpiffWorkflow indexes extension elements by id too: a clash breaks the parse."""
    extension_ids = {
        node.get("id") for node in process.iter(f"{{{SPIFF}}}*") if node.get("id") is not None
    }
    for element in process.iter(f"{{{BPMN}}}*"):
        if element.get("id") in extension_ids:
            yield _problem(
                element,
                f"l'identifiant « {element.get('id')} » est aussi celui d'une opération "
                "ou d'un paramètre : renommez l'élément",
                "id_clash",
            )


def _check_element(element: etree._Element, operations: Collection[str]) -> Iterator[Problem]:
    namespace, _, tag = element.tag[1:].partition("}")
    if namespace == BPMN and tag != "process" and tag not in SUPPORTED:
        yield _problem(
            element, f"élément BPMN non pris en charge (bpmn:{tag})", "unsupported_element"
        )
        return
    element_id = element.get("id", "")
    if namespace == BPMN and (element_id in RESERVED_IDS or element_id.endswith(".EndJoin")):
        yield _problem(
            element, f"l'identifiant « {element_id} » est réservé par le moteur", "reserved_id"
        )
    if namespace == BPMN and tag == "conditionExpression":
        yield from _check_condition(element)
    elif namespace == BPMN and tag == "script":
        yield from _check_script_element(element)
    elif namespace == SPIFF and tag in ("preScript", "postScript"):
        yield from _check_code(_owner(element), element.text or "", check_script)
    elif namespace == SPIFF and tag == "serviceTaskOperator":
        yield from _check_operation(element, operations)


def _check_condition(element: etree._Element) -> Iterator[Problem]:
    owner, code = element.getparent(), element.text or ""
    # Other tools write XPath, FEEL or JUEL (`${...}`): name the language, not a syntax error.
    language = element.get("language") or _language_of(code.strip())
    if language and "python" not in language.lower():
        yield _unsupported_language(owner, language)
    elif not code.strip():
        yield _problem(owner, "condition vide", "unsafe_expression")
    else:
        yield from _check_code(owner, code, check_expression)


def _language_of(code: str) -> str | None:
    if code[:2] in ("${", "#{"):
        return "JUEL"  # Camunda 7, Activiti, Flowable
    if code.startswith("="):
        return "FEEL"  # Camunda 8
    return None


def _check_script_element(element: etree._Element) -> Iterator[Problem]:
    owner = element.getparent()
    language = owner.get("scriptFormat") if owner is not None else None
    if language and "python" not in language.lower():
        yield _unsupported_language(owner, language)
    else:
        yield from _check_code(owner, element.text or "", check_script)


def _unsupported_language(element: etree._Element | None, language: str) -> Problem:
    message = f"langage d'expression non pris en charge « {language[:100]} »"
    return _problem(element, message, "unsupported_language")


def _check_code(
    element: etree._Element | None, code: str, check: Callable[[str], None]
) -> Iterator[Problem]:
    try:
        check(code)
    except UnsafeExpression as exc:
        yield _problem(element, f"expression refusée : {exc}", "unsafe_expression")


def _check_operation(element: etree._Element, operations: Collection[str]) -> Iterator[Problem]:
    name = element.get("id", "")
    owner = _owner(element)
    if name not in operations:
        yield _problem(owner, f"opération de service inconnue « {name} »", "unknown_operation")
    for parameter in element.iterfind("spiffworkflow:parameters/spiffworkflow:parameter", NS):
        yield from _check_code(owner, parameter.get("value", ""), check_expression)


def _check_lanes(process: etree._Element, lane_services: Mapping[str, str]) -> Iterator[Problem]:
    lane_of: dict[str, str] = {}
    for lane in process.iter(f"{{{BPMN}}}lane"):
        name = lane.get("name", "")
        if name not in lane_services:
            yield _problem(
                lane, "ce couloir n'est rattaché à aucun service", "lane_without_service"
            )
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            lane_of[(ref.text or "").strip()] = name
    for tag in HUMAN_TASKS:
        for task in process.iter(f"{{{BPMN}}}{tag}"):
            if task.get("id") not in lane_of:
                yield _problem(task, "tâche humaine hors de tout couloir", "task_outside_lane")


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


def _problem(element: etree._Element | None, message: str, code: str) -> Problem:
    if element is None:
        return Problem("", message, code)
    parent = element.getparent()
    if not element.get("id") and parent is not None and parent.get("id"):
        # Named by the shape it belongs to, which is the one to highlight.
        label = f"{_label(element)} (dans {_label(parent)})"
        return Problem(label, message, code, parent.get("id", ""))
    return Problem(_label(element), message, code, element.get("id", ""))


def _label(element: etree._Element | None) -> str:
    if element is None:
        return ""
    tag = element.tag.rpartition("}")[2]
    name = " ".join((element.get("name") or element.get("id") or "").split())[:120]
    return f"{tag} « {name} »" if name else tag
