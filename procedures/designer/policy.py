"""The policy check before publishing: a procedure that cannot work, or breaks the town's rules,
is refused with the element to fix and what to do.

The engine's checks (`procedures.bpmn.diagrams`) say whether a diagram can run at all; these
say whether it can serve families: every agent step in a service that has agents and a
deadline, every end giving the demande a final status, every document asked for one that
exists, every element on a path from the start to an end, and a retention period chosen.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import Account, AgentService, Role, Service
from coffre.catalogue import DOCUMENT_TYPES
from procedures.bpmn.diagrams import (
    BPMN,
    DMN_TAGS,
    FLOW_NODES,
    HUMAN_TASKS,
    NS,
    DiagramRejected,
    called_processes,
    lane_for,
    lanes_by_node,
    main_process,
    parse_xml,
)
from procedures.bpmn.expressions import UnsafeExpression, check_expression
from procedures.bpmn.expressions.helpers import HELPERS
from procedures.definitions import FAMILY_LANE, Condition, Definition


@dataclass(frozen=True)
class PolicyProblem:
    message: str
    element_id: str = ""


def policy_problems(
    session: Session,
    definition: Definition,
    bpmn: bytes,
    metadata_toml: str | None = None,
    decisions: bytes = b"",
) -> list[PolicyProblem]:
    """Every reason the procedure may not be published, each with its fix, in French
    (`decisions`: its DMN tables, whose outputs conditions may read)."""
    root = parse_xml(bpmn)
    process, _ = main_process(root)
    if process is None:
        return []
    called = called_processes(root, process, [])
    problems = list(_retention(metadata_toml))
    problems += _agentless_services(session, definition, process)
    problems += _steps_without_deadline(definition, process, called)
    problems += _ends_without_status(definition, process)
    problems += _unknown_documents(definition)
    problems += _paths(process)
    problems += _conditions_never_true(definition, process, called)
    problems += _unknown_names(definition, root, (process, *called), decisions)
    return problems


def _retention(metadata_toml: str | None) -> Iterator[PolicyProblem]:
    if metadata_toml is None:
        return
    try:
        raw = tomllib.loads(metadata_toml)
    except tomllib.TOMLDecodeError:
        return  # the metadata's own check says so
    if "retention_days" not in raw:
        yield PolicyProblem(
            "métadonnées : aucune durée de conservation. Indiquez en jours, avec "
            "« retention_days », combien de temps une demande close est gardée avant d'être "
            "effacée (par exemple 1825 pour cinq ans)."
        )


def _lanes(process: etree._Element) -> tuple[dict[str, str], dict[str, str]]:
    """Each lane's id by name, and each flow node's lane name."""
    ids: dict[str, str] = {}
    lane_of: dict[str, str] = {}
    for lane in process.iter(f"{{{BPMN}}}lane"):
        name = lane.get("name", "")
        ids[name] = lane.get("id", "")
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            lane_of[(ref.text or "").strip()] = name
    return ids, lane_of


def _agentless_services(
    session: Session, definition: Definition, process: etree._Element
) -> Iterator[PolicyProblem]:
    lane_ids, _ = _lanes(process)
    codes = {code for code in definition.lanes.values() if code != FAMILY_LANE}
    staffed = set(
        session.scalars(
            select(Service.code)
            .join(AgentService, AgentService.service_id == Service.id)
            .join(Account, Account.id == AgentService.account_id)
            .where(Service.code.in_(codes), Account.is_active, Account.role == Role.AGENT)
            .group_by(Service.code)
            .having(func.count(Account.id) > 0)
        )
    )
    known = set(session.scalars(select(Service.code).where(Service.code.in_(codes))))
    for lane, code in definition.lanes.items():
        if code in known and code not in staffed:
            yield PolicyProblem(
                f"couloir « {lane} » : le service « {code} » n'a aucun agent actif, personne "
                "ne traiterait ses étapes. Invitez un agent dans ce service (Administration, "
                "Agents) avant de publier.",
                lane_ids.get(lane, ""),
            )


def _human_tasks(process: etree._Element) -> Iterator[etree._Element]:
    for tag in HUMAN_TASKS:
        yield from process.iter(f"{{{BPMN}}}{tag}")


def _steps_without_deadline(
    definition: Definition, process: etree._Element, called: list[etree._Element]
) -> Iterator[PolicyProblem]:
    for task, lane in _human_tasks_with_lanes(process, called):
        task_id = task.get("id", "")
        service = definition.lanes.get(lane or "")
        if service is None or service == FAMILY_LANE:
            continue  # outside a lane (the engine says so), or the family's own step
        if definition.task(task_id).sla_hours is None:
            yield PolicyProblem(
                f"étape « {_name(task)} » : aucun délai de traitement. Sélectionnez l'étape et "
                "indiquez son délai en heures ouvrées dans les propriétés (40 pour une "
                f"semaine ; [tasks.{task_id}] sla_hours dans les métadonnées) : sans lui, la "
                "supervision ne voit jamais l'étape en retard.",
                task_id,
            )


def _human_tasks_with_lanes(
    process: etree._Element, called: list[etree._Element]
) -> Iterator[tuple[etree._Element, str | None]]:
    """Every human task the procedure runs, with its lane: a task in a sub-process has the
    sub-process's, one in a called procedure without lanes the calling activity's."""
    lane_of = lanes_by_node(process)
    for task in _human_tasks(process):
        yield task, lane_for(task, lane_of)
    for callee in called:
        own = lanes_by_node(callee)
        callers = [
            lane_for(call, lane_of)
            for call in process.iter(f"{{{BPMN}}}callActivity")
            if call.get("calledElement") == callee.get("id")
        ]
        for task in _human_tasks(callee):
            yield task, lane_for(task, own) if own else next(iter(callers), None)


def _ends_without_status(
    definition: Definition, process: etree._Element
) -> Iterator[PolicyProblem]:
    reminders_only = _reached(process, interrupting_only=False) - _reached(process)
    for end in process.iterchildren(f"{{{BPMN}}}endEvent"):
        end_id = end.get("id", "")
        if end_id in reminders_only:
            continue  # the end of a reminder's branch: the demande ends elsewhere
        if end_id not in definition.ends:
            yield PolicyProblem(
                f"fin « {_name(end)} » : elle ne donne aucun statut final à la demande, qui "
                "resterait ouverte. Choisissez son statut dans le panneau des propriétés (ou "
                f"ajoutez-la à [ends] : « {end_id} » = « acceptee », « refusee » ou « classee »).",
                end_id,
            )


def _unknown_documents(definition: Definition) -> Iterator[PolicyProblem]:
    for required in definition.documents:
        for code in required.types:
            if code not in DOCUMENT_TYPES:
                yield PolicyProblem(
                    f"justificatif « {code} » : ce type n'existe pas. Choisissez-en un de la "
                    "liste des types de justificatifs (Administration, Types de justificatifs)."
                )
        if required.when is not None:
            yield from _condition_problems(definition, required.type, required.when)


def _condition_problems(
    definition: Definition, code: str, when: Condition
) -> Iterator[PolicyProblem]:
    """A conditional document reads a choice of the family's form, by its values."""
    field = next((f for f in definition.fields if f.name == when.field), None)
    if field is None or field.type != "choice":
        yield PolicyProblem(
            f"justificatif « {code} » : il dépend du champ « {when.field} », qui n'est pas une "
            "liste de choix du formulaire de la famille : il ne serait jamais demandé. "
            "Corrigez le nom du champ dans « when »."
        )
        return
    unknown = [value for value in when.values if value not in field.choices]
    if unknown:
        yield PolicyProblem(
            f"justificatif « {code} » : « {field.label} » n'a pas le choix "
            + ", ".join(f"« {value} »" for value in unknown)
            + ". Corrigez les valeurs de « when »."
        )


def _paths(process: etree._Element) -> Iterator[PolicyProblem]:
    """Every flow node on a path from a start event to an end event."""
    nodes = {
        element.get("id", ""): element
        for element in process
        if isinstance(element.tag, str) and element.tag.rpartition("}")[2] in FLOW_NODES
    }
    forward: dict[str, set[str]] = {node: set() for node in nodes}
    backward: dict[str, set[str]] = {node: set() for node in nodes}

    def join(source: str, target: str) -> None:
        if source in nodes and target in nodes:
            forward[source].add(target)
            backward[target].add(source)

    for flow in process.iter(f"{{{BPMN}}}sequenceFlow"):
        join(flow.get("sourceRef", ""), flow.get("targetRef", ""))
    for node_id, element in nodes.items():
        attached = element.get("attachedToRef")
        if attached:  # a boundary event starts from the task it is attached to
            join(attached, node_id)
    starts = [n for n, e in nodes.items() if e.tag == f"{{{BPMN}}}startEvent"]
    ends = [n for n, e in nodes.items() if e.tag == f"{{{BPMN}}}endEvent"]
    reached = _closure(starts, forward)
    leads_to_end = _closure(ends, backward)
    for node_id, element in nodes.items():
        if node_id not in reached:
            yield PolicyProblem(
                f"« {_name(element)} » : aucun chemin n'y mène depuis le début. Reliez-le à la "
                "suite par un flux, ou supprimez-le.",
                node_id,
            )
        elif node_id not in leads_to_end:
            yield PolicyProblem(
                f"« {_name(element)} » : aucun chemin n'en mène à une fin, la demande y "
                "resterait bloquée. Ajoutez un flux vers la suite ou un événement de fin.",
                node_id,
            )


def _reached(process: etree._Element, interrupting_only: bool = True) -> set[str]:
    """The flow nodes reached from the start (by default not through a non-interrupting
    boundary event: a reminder's branch runs beside the demande's path, never ends it)."""
    forward: dict[str, set[str]] = {}
    for flow in process.iterchildren(f"{{{BPMN}}}sequenceFlow"):
        forward.setdefault(flow.get("sourceRef", ""), set()).add(flow.get("targetRef", ""))
    for event in process.iterchildren(f"{{{BPMN}}}boundaryEvent"):
        if not interrupting_only or event.get("cancelActivity", "true") != "false":
            forward.setdefault(event.get("attachedToRef", ""), set()).add(event.get("id", ""))
    starts = [e.get("id", "") for e in process.iterchildren(f"{{{BPMN}}}startEvent")]
    return _closure(starts, forward)


def _conditions_never_true(
    definition: Definition, process: etree._Element, called: list[etree._Element]
) -> Iterator[PolicyProblem]:
    """A flow whose condition compares a choice field with a value it cannot take, or is a
    constant that is false: that path is never taken."""
    # A name may be a field of several forms: a value any of them offers can be compared.
    choices: dict[str, tuple[str, set[str]]] = {}
    forms = [definition.fields, *(settings.form for settings in definition.tasks.values())]
    for field in (field for form in forms for field in form):
        if field.type == "choice":
            choices.setdefault(field.name, (field.label, set()))[1].update(field.choices)
        else:
            choices[field.name] = (field.label, {"*"})  # not only choices: anything goes
    for owner in (process, *called):
        for flow in owner.iter(f"{{{BPMN}}}sequenceFlow"):
            condition = flow.find("bpmn:conditionExpression", NS)
            if condition is None or not (condition.text or "").strip():
                continue
            text = " ".join((condition.text or "").split())
            reason = _never_true(text, choices)
            if reason:
                yield PolicyProblem(
                    f"flux « {_name(flow)} » : la condition « {text[:120]} » "
                    f"ne peut jamais être vraie ({reason}), ce chemin ne serait jamais pris. "
                    "Corrigez la valeur comparée ou supprimez le flux.",
                    flow.get("id", ""),
                )


def _never_true(source: str, choices: Mapping[str, tuple[str, set[str]]]) -> str:
    try:
        check_expression(source)
        tree = ast.parse(source.strip(), mode="eval")
    except (UnsafeExpression, SyntaxError):
        return ""  # the engine's checks name it
    body = tree.body
    if isinstance(body, ast.Constant) and not body.value:
        return "elle est toujours fausse"
    if (
        isinstance(body, ast.Compare)
        and len(body.ops) == 1
        and isinstance(body.ops[0], ast.Eq)
        and isinstance(body.left, ast.Name)
        and isinstance(body.comparators[0], ast.Constant)
        and body.left.id in choices
    ):
        (label, values), value = choices[body.left.id], str(body.comparators[0].value)
        if "*" not in values and value not in values:
            allowed = ", ".join(f"« {choice} »" for choice in sorted(values))
            return f"« {value} » n'est pas un choix du champ « {label} » : {allowed}"
    return ""


def _closure(seeds: Iterable[str], edges: Mapping[str, set[str]]) -> set[str]:
    seen = set(seeds)
    stack = list(seen)
    while stack:
        for following in edges.get(stack.pop(), ()):
            if following not in seen:
                seen.add(following)
                stack.append(following)
    return seen


def _name(element: etree._Element) -> str:
    return " ".join((element.get("name") or element.get("id") or "").split())[:120]


# Names a condition may read besides the procedure's own: the demande's number, the helpers.
ENGINE_NAMES = frozenset({"demande_id", *HELPERS})


def _unknown_names(
    definition: Definition,
    root: etree._Element,
    owners: Iterable[etree._Element],
    decisions: bytes,
) -> Iterator[PolicyProblem]:
    """A condition reading a name that no form, decision table, script, operation or wait
    provides: a typo, or a field removed since; the demande would stop there."""
    known = set(ENGINE_NAMES) | _provided(definition, root, decisions)
    for owner in owners:
        for flow in owner.iter(f"{{{BPMN}}}sequenceFlow"):
            condition = flow.find("bpmn:conditionExpression", NS)
            text = " ".join((condition.text or "").split()) if condition is not None else ""
            unknown = sorted(_read_names(text) - known) if text else []
            if unknown:
                names = ", ".join(f"« {name} »" for name in unknown[:5])
                yield PolicyProblem(
                    f"flux « {_name(flow)} » : la condition « {text[:120]} » lit {names}, "
                    "qu'aucun formulaire, table de décision, script ni opération ne fournit : "
                    "la demande s'arrêterait là. Corrigez le nom (une faute de frappe ?) ou "
                    "ajoutez le champ au formulaire qui le demande.",
                    flow.get("id", ""),
                )


def _provided(definition: Definition, root: etree._Element, decisions: bytes) -> set[str]:
    """Every name the procedure's data may hold when a condition is evaluated."""
    names = {field.name for field in definition.fields}
    for settings in definition.tasks.values():
        names |= {field.name for field in settings.form} | set(settings.timeout_data)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        names.update(filter(None, [element.get("resultVariable")]))
        tag = etree.QName(element).localname
        if tag == "messageVariable" and element.text:
            names.add(element.text.strip())
        elif tag in ("inputDataItem", "outputDataItem", "property", "dataObject"):
            names.update(filter(None, [element.get("id"), element.get("name")]))
        elif tag == "loopDataOutputRef" and element.text:
            names.add(element.text.strip())
        elif tag == "script" and element.text:
            names |= _assigned_names(element.text)
    if decisions:
        try:
            tables = parse_xml(decisions, DMN_TAGS)
        except DiagramRejected:
            return names
        names.update(
            output.get("name", "")
            for output in tables.iter()
            if isinstance(output.tag, str) and etree.QName(output).localname == "output"
        )
    return names


def _assigned_names(script: str) -> set[str]:
    try:
        tree = ast.parse(script)
    except SyntaxError:
        return set()  # the engine's checks name it
    return {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }


def _read_names(source: str) -> set[str]:
    """The names an expression reads, less those it binds itself (comprehensions)."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError:
        return set()  # the engine's checks name it
    names = [node for node in ast.walk(tree) if isinstance(node, ast.Name)]
    bound = {node.id for node in names if isinstance(node.ctx, ast.Store)}
    return {node.id for node in names if isinstance(node.ctx, ast.Load)} - bound
