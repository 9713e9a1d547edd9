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
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from procedures.bpmn import timers
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
        # Sub-processes, reusable procedures called from this one, loops and multi-instances.
        "subProcess", "callActivity", "multiInstanceLoopCharacteristics", "loopCardinality",
        "loopDataInputRef", "loopDataOutputRef", "inputDataItem", "outputDataItem",
        "completionCondition", "standardLoopCharacteristics", "loopCondition",
        # Waiting for the family, a partner or a date; decision tables; messages to the pools
        # that stand for the family or a partner.
        "eventBasedGateway", "receiveTask", "sendTask", "businessRuleTask", "timeCycle",
    }
)  # fmt: skip
# Kept in the stored diagram for the people who read it, removed from what the engine runs
# (see `_runnable`): data objects and stores, data inputs and outputs, and resource roles
# (lanes say who does a task here).
DOCUMENTATION_ONLY = frozenset(
    {
        "dataObject", "dataObjectReference", "dataStoreReference", "dataInputAssociation",
        "dataOutputAssociation", "ioSpecification", "property", "potentialOwner", "performer",
        "humanPerformer", "dataInput", "dataOutput", "inputSet", "outputSet", "dataStore",
    }
)  # fmt: skip
# The flow nodes the engine runs, which a path goes through (not lanes, flows or annotations).
FLOW_NODES = frozenset(
    {
        "startEvent", "endEvent", "userTask", "manualTask", "serviceTask", "scriptTask", "task",
        "exclusiveGateway", "parallelGateway", "inclusiveGateway", "boundaryEvent",
        "intermediateCatchEvent", "intermediateThrowEvent", "subProcess", "callActivity",
        "receiveTask", "sendTask", "businessRuleTask", "eventBasedGateway",
    }
)  # fmt: skip
HUMAN_TASKS = ("userTask", "manualTask")
DMN_TAGS = "dmn"
# Elements whose text is an expression the engine evaluates (timers: an ISO 8601 string,
# a date, or "5 jours ouvrés").
EXPRESSION_TAGS = frozenset(
    {"conditionExpression", "loopCondition", "completionCondition", "loopCardinality",
     "timeDuration", "timeDate", "timeCycle"}
)  # fmt: skip
MISSING_REFERENCES = frozenset({"unknown_called_element", "missing_decision", "unknown_decision"})
TIMER_TAGS = frozenset({"timeDuration", "timeDate", "timeCycle"})
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


@dataclass(frozen=True)
class OutgoingMessage:
    """A message the process sends to another pool: what it says (the message flow's name,
    else the sender's) and the name of the pool it goes to (the family's, a partner's)."""

    label: str
    pool: str


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
    # By message name: where each message sent out of the process goes.
    outgoing_messages: dict[str, OutgoingMessage] = field(default_factory=dict)


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


def parse_xml(content: bytes, kind: str = "bpmn") -> etree._Element:
    """Parse BPMN (or, with `kind=DMN_TAGS`, DMN) XML refusing DTDs, entities, network
    access and oversized input."""
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
    if kind == DMN_TAGS:
        namespace, _, tag = root.tag[1:].partition("}")
        if tag != "definitions" or "DMN" not in namespace.upper():
            raise _refused("not_dmn", "ce fichier n'est pas une table de décision DMN")
    elif root.tag != f"{{{BPMN}}}definitions":
        raise _refused("not_bpmn", "ce fichier n'est pas un diagramme BPMN 2.0")
    return root


def load_diagram(
    content: bytes,
    lane_services: Mapping[str, str],
    operations: Collection[str],
    filename: str = "diagramme.bpmn",
    decisions: bytes = b"",
) -> Diagram:
    """Parse and check a diagram (and the DMN decision tables its business rule tasks call);
    raise DiagramRejected listing every problem."""
    root = parse_xml(content)
    process, problems = main_process(root)
    if process is None:
        raise DiagramRejected(problems)
    called = called_processes(root, process, problems)
    problems.extend(check_process(process, lane_services, operations))
    for callee in called:
        problems.extend(check_process(callee, lane_services, operations, called=True))
    dmn = _decisions(decisions, problems)
    problems.extend(_check_decision_refs(process, called, dmn))
    if any(problem.code in MISSING_REFERENCES for problem in problems):
        raise DiagramRejected(problems)  # the engine would only say it again, in English
    spec, subprocesses = _spiff_spec(root, process, filename, problems, dmn)
    if problems:
        raise DiagramRejected(problems)
    timers.clock_timers(spec, subprocesses)
    source = hashlib.sha256(content)
    if decisions:
        source.update(b"\0" + decisions)  # the spec is made of both
    return Diagram(
        process_id=process.get("id", ""),
        spec=spec,
        subprocess_specs=subprocesses,
        lanes=[lane.get("name", "") for lane in process.iter(f"{{{BPMN}}}lane")],
        human_tasks=list(_human_tasks(process)),
        source_sha256=source.hexdigest(),
        outgoing_messages=outgoing_messages(root),
    )


def outgoing_messages(root: etree._Element) -> dict[str, OutgoingMessage]:
    """By message name, the pool each message flow leaving an executable element reaches."""
    messages = {
        m.get("id", ""): m.get("name") or m.get("id", "") for m in root.iter(f"{{{BPMN}}}message")
    }
    pools: dict[str, str] = {}  # any element id -> the name of its pool
    for participant in root.iter(f"{{{BPMN}}}participant"):
        name = participant.get("name") or participant.get("id", "")
        pools[participant.get("id", "")] = name
        owned = root.find(f"bpmn:process[@id='{participant.get('processRef', '')}']", NS)
        for element in owned.iter() if owned is not None else ():
            if element.get("id"):
                pools[element.get("id", "")] = name
    elements = {e.get("id"): e for e in root.iterfind("bpmn:process//*[@id]", NS)}
    found: dict[str, OutgoingMessage] = {}
    for flow in root.iter(f"{{{BPMN}}}messageFlow"):
        sender = elements.get(flow.get("sourceRef", ""))
        if sender is None:
            continue
        definition = sender.find("bpmn:messageEventDefinition", NS)
        reference = sender.get("messageRef") or (
            definition.get("messageRef") if definition is not None else None
        )
        if not reference or reference not in messages:
            continue
        label = flow.get("name") or sender.get("name") or messages[reference]
        found[messages[reference]] = OutgoingMessage(
            label, pools.get(flow.get("targetRef", ""), "")
        )
    return found


def main_process(root: etree._Element) -> tuple[etree._Element | None, list[Problem]]:
    """The one process the portal runs, and the problems of choosing it.

    A diagram may hold other processes: those its call activities call (run as parts of the
    main one), and pools standing for the family or a partner (not executable, or empty: a
    "black box" pool), which message flows reach as documentation.
    """
    processes = root.findall("bpmn:process", NS)
    called = {node.get("calledElement") for node in root.iter(f"{{{BPMN}}}callActivity")}
    candidates = [p for p in processes if p.get("id") not in called]
    executable = [p for p in candidates if p.get("isExecutable", "true") != "false"]
    if len(executable) > 1:
        executable = [p for p in executable if _has_flow_nodes(p)]
    if not executable:
        executable = [p for p in candidates if _has_flow_nodes(p)]
    if len(executable) == 1:
        return executable[0], []
    if not executable:
        return None, [Problem("", "le diagramme ne contient aucun processus", "no_process")]
    names = ", ".join(f"« {p.get('name') or p.get('id')} »" for p in executable[:10])
    message = (
        f"{len(executable)} processus exécutables : {names} ; marquez non exécutables "
        '(isExecutable="false") ceux qui représentent la famille ou un partenaire'
    )
    return None, [Problem("", message, "several_processes")]


def _has_flow_nodes(process: etree._Element) -> bool:
    return any(
        child.tag.rpartition("}")[2] not in ("laneSet", "documentation", "extensionElements")
        for child in process.iterchildren(f"{{{BPMN}}}*")
    )


def called_processes(
    root: etree._Element, process: etree._Element, problems: list[Problem]
) -> list[etree._Element]:
    """The processes the main one calls (and those they call), all in the same file so
    that they are versioned with it; a call to a process not in the file is a problem."""
    by_id = {p.get("id"): p for p in root.findall("bpmn:process", NS)}
    found: list[etree._Element] = []
    pending = [process]
    while pending:
        caller = pending.pop()
        for call in caller.iter(f"{{{BPMN}}}callActivity"):
            target = call.get("calledElement", "")
            callee = by_id.get(target)
            if callee is None:
                message = (
                    f"la procédure appelée « {target} » n'est pas dans le fichier : ajoutez son "
                    "processus au diagramme (elle sera versionnée avec lui)"
                )
                problems.append(_problem(call, message, "unknown_called_element"))
            elif callee is process or callee in found:
                if callee is process:
                    message = "une procédure ne peut pas s'appeler elle-même"
                    problems.append(_problem(call, message, "recursive_call"))
            else:
                found.append(callee)
                pending.append(callee)
    return found


def _decisions(decisions: bytes, problems: list[Problem]) -> etree._Element | None:
    """The DMN document, read by the same hardened parser, every expression checked."""
    if not decisions.strip():
        return None
    try:
        root = parse_xml(decisions, DMN_TAGS)
    except DiagramRejected as exc:
        problems.extend(exc.problems)
        return None
    for table in root.iter("{*}decisionTable"):
        for entry in table.iter("{*}inputExpression", "{*}inputEntry", "{*}outputEntry"):
            text = "".join(entry.itertext()).strip()
            if not text or text == "-":
                continue
            language = entry.get("expressionLanguage") or _language_of(text)
            check = text.replace("?", "dmninputexpr")
            if language and "python" not in language.lower():
                problems.append(
                    _decision_problem(entry, f"langage « {language[:60]} » non pris en charge")
                )
                continue
            try:
                if entry.tag.endswith("inputEntry"):
                    _check_unary_test(check)
                else:
                    check_expression(check)
            except UnsafeExpression as exc:
                reason = evaluator_message(str(exc))
                problems.append(_decision_problem(entry, f"expression refusée : {reason}"))
    return root


def _check_unary_test(text: str) -> None:
    """A rule's input cell: an expression, or a comparison missing its left side (`< 500`)."""
    try:
        check_expression(text)
    except UnsafeExpression:
        check_expression(f"dmninputexpr {text}")


def _decision_problem(entry: etree._Element, message: str) -> Problem:
    node: etree._Element | None = entry
    while node is not None and not node.tag.endswith("}decision"):
        node = node.getparent()
    label = (
        f"table de décision « {node.get('name') or node.get('id')} »" if node is not None else ""
    )
    return Problem(
        label, message, "unsafe_expression", node.get("id", "") if node is not None else ""
    )


def _check_decision_refs(
    process: etree._Element, called: list[etree._Element], dmn: etree._Element | None
) -> Iterator[Problem]:
    known = {d.get("id") for d in dmn.iter("{*}decision")} if dmn is not None else set()
    for owner in (process, *called):
        for task in owner.iter(f"{{{BPMN}}}businessRuleTask"):
            ref = task.find("bpmn:extensionElements/spiffworkflow:calledDecisionId", NS)
            decision = (ref.text or "").strip() if ref is not None else ""
            if not decision:
                message = "aucune table de décision choisie : indiquez celle que la tâche évalue"
                yield _problem(task, message, "missing_decision")
            elif decision not in known:
                message = (
                    f"table de décision « {decision} » introuvable : ajoutez-la ou "
                    "choisissez-en une existante"
                )
                yield _problem(task, message, "unknown_decision")


def engine_problems(root: etree._Element, process: etree._Element, filename: str) -> list[Problem]:
    """What SpiffWorkflow's own parser refuses in a process (run after the checks above).

    Business rule tasks are read as plain tasks: an imported file does not carry its
    decision tables, which the designer adds afterwards (and then checks).
    """
    problems: list[Problem] = []
    _spiff_spec(root, process, filename, problems, decisions_pending=True)
    return problems


def _runnable(root: etree._Element, decisions_pending: bool = False) -> etree._Element:
    """The tree SpiffWorkflow parses: data objects and their associations left out (and,
    while decisions are pending, business rule tasks as plain tasks)."""
    documentation = any(
        True for _ in root.iter(*(f"{{{BPMN}}}{tag}" for tag in DOCUMENTATION_ONLY))
    )
    rules = decisions_pending and any(True for _ in root.iter(f"{{{BPMN}}}businessRuleTask"))
    if not documentation and not rules:
        return root
    copy = etree.fromstring(etree.tostring(root))
    if rules:
        for task in copy.iter(f"{{{BPMN}}}businessRuleTask"):
            task.tag = f"{{{BPMN}}}task"
    etree.strip_elements(copy, *(f"{{{BPMN}}}{tag}" for tag in DOCUMENTATION_ONLY), with_tail=False)
    return copy


def _spiff_spec(
    root: etree._Element,
    process: etree._Element,
    filename: str,
    problems: list[Problem],
    dmn: etree._Element | None = None,
    decisions_pending: bool = False,
) -> tuple[Any, dict[str, Any]]:
    parser = SpiffBpmnParser()
    try:
        if dmn is not None:
            parser.add_dmn_xml(dmn, "decisions.dmn")
        parser.add_bpmn_xml(_runnable(root, decisions_pending), filename)
        process_id = process.get("id", "")
        return parser.get_spec(process_id), parser.get_subprocess_specs(process_id)
    except ValidationException as exc:
        element = f"{exc.tag} « {exc.name or exc.id} »" if exc.tag else ""
        message = f"refusé par le moteur : {engine_message(exc)}"
        problems.append(Problem(element, message, "engine_refused", exc.id or ""))
    except SpiffWorkflowException as exc:
        problems.append(
            Problem("", f"refusé par le moteur : {engine_message(exc)}", "engine_refused")
        )
    except (KeyError, AttributeError, TypeError, ValueError, IndexError) as exc:
        # SpiffWorkflow's parser trusts its input; a diagram it cannot read is refused.
        message = f"refusé par le moteur : structure illisible ({type(exc).__name__})"
        problems.append(Problem("", message, "engine_refused"))
    return None, {}


# SpiffWorkflow's parser speaks English; administrators read French, with what to do next.
ENGINE_MESSAGES: tuple[tuple[str, str], ...] = (
    (r"A Service Task must have an operator",
     "tâche de service sans opération : choisissez l'une des opérations du portail "
     "(ou faites-en une tâche humaine)"),
    (r"No start event found", "aucun événement de début : ajoutez-en un au processus"),
    (r"Exactly one start event is required in a SubWorkflow",
     "le sous-processus doit avoir exactement un événement de début : ajoutez-le à l'intérieur"),
    (r"Non-default exclusive outgoing sequence flow without condition",
     "flux sortant d'une passerelle exclusive sans condition : écrivez sa condition ou "
     "faites-en le flux par défaut"),
    (r"A SubWorkflow Must contain an End event",
     "le sous-processus n'a pas d'événement de fin : ajoutez-en un à l'intérieur"),
    (r"A SubWorkflow Must contain a Start event",
     "le sous-processus n'a pas d'événement de début : ajoutez-en un à l'intérieur"),
    (r"Multiple outgoing flows are not supported",
     "plusieurs flux sortants d'une tâche : placez une passerelle après la tâche"),
    (r"A loopMaximum or loopCondition must be specified",
     "boucle sans condition ni maximum : indiquez quand elle s'arrête"),
    (r"A multiinstance task must specify a cardinality or a loop input data reference",
     "instance multiple sans collection : déclarez une propriété du processus nommée comme la "
     "liste (par exemple « enfants ») et choisissez-la comme collection d'entrée"),
    (r"loop input data reference is missing|loop output data reference is missing",
     "collection de l'instance multiple introuvable : indiquez la variable de la liste"),
    (r"Cancel Events may only be used with transactions",
     "un événement d'annulation n'est possible que dans une transaction"),
    (r"Expected an? (\w+) node",
     "définition d'événement incomplète : choisissez le message, le signal ou l'erreur"),
    (r"(Signal|Error|Escalation|Correlation) identifier is missing",
     "identifiant d'événement manquant : nommez le message, le signal ou l'erreur"),
    (r"Unknown Time Specification|Time Specification Error",
     "minuterie illisible : une durée ISO 8601 (« P5D », « PT2H ») ou « 5 jours ouvrés »"),
    (r"Duplicate process ID", "deux processus ont le même identifiant : renommez-en un"),
    (r"No DMN Diagram available with id",
     "table de décision introuvable : ajoutez-la ou choisissez-en une existante"),
    (r"There is no support implemented for this task type",
     "type de tâche non pris en charge par le moteur"),
    (r"Process .* is not executable", "le processus n'est pas exécutable"),
    (r"Cannot resolve data(Input|Output)Association",
     "association de données vers un objet absent : reliez-la à un objet de données"),
    (r"Conditional event definition with missing condition",
     "événement conditionnel sans condition : écrivez la condition"),
    # What a run meets: the diagram's fault for these answers, said to whoever can fix it.
    (r"No conditions satisfied",
     "aucune condition de la passerelle n'est vraie pour ces réponses : ajoutez un flux par "
     "défaut ou une condition qui couvre ce cas"),
    (r"Missing data input for multiinstance task|Missing data input",
     "la liste que l'instance multiple parcourt manque dans les réponses : choisissez comme "
     "collection un champ du formulaire (par exemple « enfants »)"),
    (r"Multiinstance (input|output) item (\S+) already exists",
     "l'élément de l'instance multiple porte le nom d'une réponse (« \\2 ») : renommez-le"),
    (r"The data object could not be read|A data object could not be set",
     "objet de données absent : l'étape qui le remplit doit venir avant"),
    (r"This process is not waiting for",
     "la demande n'attend plus ce message : il est arrivé trop tard"),
    (r"^Error evaluating expression '(.*)': (.*)$",
     "l'expression « \\1 » ne peut pas être évaluée : \\2"),
    (r"^Error in script: (.*)$", "le script ne peut pas s'exécuter : \\1"),
)  # fmt: skip


# The restricted evaluator's own reasons (procedures/bpmn/expressions), inside the above or
# alone (a designer's check of an expression): each of its messages, in French.
EVALUATOR_MESSAGES: tuple[tuple[str, str], ...] = (
    (r"unknown name '(\w+)'",
     "aucune réponse ni variable ne s'appelle « \\1 » à cette étape (une faute de frappe, ou "
     "un champ d'un formulaire qui vient plus tard ?)"),
    (r"wrong types \((\w+) and (\w+)\) in '(.*)'",
     "« \\3 » compare ou combine des valeurs de types différents (\\1 et \\2)"),
    (r"wrong types in '(.*)'", "« \\1 » combine des valeurs de types incompatibles"),
    (r"(index out of range|invalid value|number out of range) in '(.*)'",
     "« \\2 » : valeur hors des limites ou invalide"),
    (r"division by zero in '(.*)'", "« \\1 » divise par zéro"),
    (r"key not found in '(.*)'",
     "« \\1 » lit une clé que les données n'ont pas (l'étape qui la remplit est-elle passée ?)"),
    (r"value nested too deeply in '(.*)'", "« \\1 » : valeur imbriquée trop profondément"),
    (r"a value of type (\w+) cannot be indexed in '(.*)'",
     "« \\2 » : une valeur de type \\1 ne se lit pas par indice"),
    (r"'(\w+)' cannot be called on an? (\w+) value in '(.*)'",
     "« \\3 » : « \\1 » ne s'applique pas à une valeur de type \\2"),
    (r"an? (\w+) value has no attribute '(\w+)' in '(.*)'",
     "« \\3 » : une valeur de type \\1 n'a pas d'attribut « \\2 »"),
    (r"a value larger than (\d+) items is not allowed",
     "une valeur de plus de \\1 éléments n'est pas permise"),
    (r"an integer result over (\d+) bits is not allowed",
     "un résultat entier de plus de \\1 bits n'est pas permis"),
    (r"repetition beyond (\d+) items is not allowed",
     "une répétition de plus de \\1 éléments n'est pas permise"),
    (r"syntax error at line (\d+)", "erreur de syntaxe à la ligne \\1"),
    (r"the source cannot be parsed", "l'expression est illisible"),
    (r"expression too complex \(more than (\d+) nodes\)",
     "expression trop complexe (plus de \\1 éléments)"),
    (r"expression nested more than (\d+) levels deep",
     "expression imbriquée sur plus de \\1 niveaux"),
    (r"constant of type '(\w+)' is not allowed",
     "une constante de type « \\1 » n'est pas permise"),
    (r"integer constant larger than 10\*\*12 is not allowed",
     "un nombre entier au-delà de 10**12 n'est pas permis"),
    (r"infinite float constant is not allowed", "un nombre infini n'est pas permis"),
    (r"string constant longer than (\d+) is not allowed",
     "un texte de plus de \\1 caractères n'est pas permis"),
    (r"name '(\w+)' is not allowed \(starts with '_'\)",
     "le nom « \\1 » n'est pas permis (il commence par « _ »)"),
    (r"method '(\w+)' may only be called",
     "la méthode « \\1 » s'emploie seulement appelée, avec ses parenthèses"),
    (r"attribute access to '(\w+)' is not allowed", "l'attribut « \\1 » n'est pas permis"),
    (r"call to '(\w+)' is not allowed", "l'appel de « \\1 » n'est pas permis"),
    (r"calling the result of an expression is not allowed",
     "appeler le résultat d'une expression n'est pas permis"),
    (r"unpacking with \*\* is not allowed", "le dépliage avec ** n'est pas permis"),
    (r"keyword argument '(\w+)' is not allowed", "l'argument nommé « \\1 » n'est pas permis"),
    (r"%-formatting of strings is not allowed",
     "la mise en forme de texte par % n'est pas permise"),
    (r"'is' is only allowed with None",
     "« is » ne sert qu'à tester l'absence de valeur : comparez les valeurs avec =="),
    (r"format specifications in f-strings are not allowed",
     "les formats dans les f-strings ne sont pas permis"),
    (r"only 'name = expression' lines are allowed \(line (\d+)\)",
     "seules des lignes « nom = expression » sont permises (ligne \\1)"),
    (r"assignment to '(\w+)' is not allowed \(starts with '_'\)",
     "affecter « \\1 » n'est pas permis (le nom commence par « _ »)"),
    (r"one assignment per line \(line (\d+)\)", "une seule affectation par ligne (ligne \\1)"),
    (r"expression longer than (\d+) characters", "expression de plus de \\1 caractères"),
    (r"script longer than (\d+) characters", "script de plus de \\1 caractères"),
    (r"round\(\) accepts at most (\d+) digits",
     "round() accepte au plus \\1 chiffres après la virgule"),
    (r"replace\(\) producing more than (\d+) characters",
     "replace() produirait plus de \\1 caractères"),
    (r"birth date is not a date", "la date de naissance n'est pas une date"),
    (r"reference date is not a date", "la date de référence n'est pas une date"),
    (r"start date is not a date", "la date de début n'est pas une date"),
    (r"end date is not a date", "la date de fin n'est pas une date"),
    (r"(.*) is not a date", "\\1 n'est pas une date"),
)  # fmt: skip
# What the checker names in "<construct> is not allowed" (checks._DESCRIPTIONS), in French.
CONSTRUCTS = {
    "lambda": "lambda",
    "a comprehension": "une compréhension",
    "a generator expression": "une expression génératrice",
    "assignment expression (:=)": "l'affectation dans une expression (:=)",
    "unpacking with *": "le dépliage avec *",
    "await": "await",
    "yield": "yield",
    "import": "import",
}
_OPERATOR = re.compile(r"the (\S+) operator")
_SYNTAX = re.compile(r"syntax '(\w+)'")


def engine_message(exc: Exception) -> str:
    """SpiffWorkflow's message in French, with the fix; an unknown one quoted as it is."""
    text = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    for pattern, french in ENGINE_MESSAGES:
        found = re.search(pattern, text)
        if found:
            return _evaluator_french(found.expand(french))
    return f"« {text} »"


def _evaluator_french(text: str) -> str:
    head, separator, reason = text.rpartition(" : ")
    french = _evaluator_reason(reason) if separator else None
    return f"{head} : {french}" if french is not None else text


def evaluator_message(reason: str) -> str:
    """One of the restricted evaluator's reasons in French; an unknown one quoted."""
    french = _evaluator_reason(reason)
    return french if french is not None else f"« {reason} »"


def _evaluator_reason(reason: str) -> str | None:
    for pattern, french in EVALUATOR_MESSAGES:
        found = re.search(pattern, reason)
        if found:
            return found.expand(french)
    construct = re.fullmatch(r"(.*) is not allowed", reason)
    if construct:
        return f"{_construct(construct.group(1))} n'est pas permis dans le langage des conditions"
    return None


def _construct(name: str) -> str:
    operator, syntax = _OPERATOR.fullmatch(name), _SYNTAX.fullmatch(name)
    if operator:
        return f"l'opérateur {operator.group(1)}"
    if syntax:
        return f"la syntaxe « {syntax.group(1)} »"
    return CONSTRUCTS.get(name, f"« {name} »")


def check_process(
    process: etree._Element,
    lane_services: Mapping[str, str],
    operations: Collection[str],
    *,
    called: bool = False,
) -> Iterator[Problem]:
    """Every problem of one process element (`called`: a process the main one calls, whose
    tasks may take the lane of the call activity)."""
    for element in _elements(process):
        yield from _check_element(element, operations)
    yield from _check_lanes(process, lane_services, called)
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
        if namespace == BPMN and tag in DOCUMENTATION_ONLY:
            continue  # not run, so not checked
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
    if namespace == BPMN and tag in TIMER_TAGS and timers.is_literal(element.text or ""):
        return
    if namespace == BPMN and tag in EXPRESSION_TAGS:
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
        tag = element.tag.rpartition("}")[2]
        message = (
            "minuterie vide : indiquez une durée (« P1D », « 5 jours ouvrés ») ou une date"
            if tag in TIMER_TAGS
            else "condition vide"
        )
        yield _problem(owner, message, "unsafe_expression")
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
        reason = evaluator_message(str(exc))
        yield _problem(element, f"expression refusée : {reason}", "unsafe_expression")


def _check_operation(element: etree._Element, operations: Collection[str]) -> Iterator[Problem]:
    name = element.get("id", "")
    owner = _owner(element)
    if name not in operations:
        yield _problem(owner, f"opération de service inconnue « {name} »", "unknown_operation")
    for parameter in element.iterfind("spiffworkflow:parameters/spiffworkflow:parameter", NS):
        yield from _check_code(owner, parameter.get("value", ""), check_expression)


def _check_lanes(
    process: etree._Element, lane_services: Mapping[str, str], called: bool
) -> Iterator[Problem]:
    for lane in process.iter(f"{{{BPMN}}}lane"):
        if lane.get("name", "") not in lane_services:
            yield _problem(
                lane, "ce couloir n'est rattaché à aucun service", "lane_without_service"
            )
    lane_of = lanes_by_node(process)
    if called and not lane_of:
        return  # its human tasks take the lane of the call activity that runs it
    for tag in HUMAN_TASKS:
        for task in process.iter(f"{{{BPMN}}}{tag}"):
            if lane_for(task, lane_of) is None:
                message = (
                    "tâche humaine hors de tout couloir : placez-la dans le couloir du "
                    "service qui la traite (ou de la famille)"
                )
                yield _problem(task, message, "task_outside_lane")


def lanes_by_node(process: etree._Element) -> dict[str, str]:
    return {
        (ref.text or "").strip(): lane.get("name", "")
        for lane in process.iter(f"{{{BPMN}}}lane")
        for ref in lane.iterfind("bpmn:flowNodeRef", NS)
    }


def lane_for(node: etree._Element, lane_of: Mapping[str, str]) -> str | None:
    """A node's lane, or that of the sub-process it sits in (as SpiffWorkflow runs it)."""
    current: etree._Element | None = node
    while current is not None and current.tag != f"{{{BPMN}}}process":
        lane = lane_of.get(current.get("id", ""))
        if lane is not None:
            return lane
        current = current.getparent()
    return None


def _human_tasks(process: etree._Element) -> Iterator[HumanTask]:
    lane_of = lanes_by_node(process)
    for tag in HUMAN_TASKS:
        for task in process.iter(f"{{{BPMN}}}{tag}"):
            task_id = task.get("id", "")
            yield HumanTask(task_id, task.get("name") or task_id, lane_for(task, lane_of))


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
