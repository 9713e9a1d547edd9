"""What changed between two versions of a procedure, element by element, in French.

Not "the diagram changed": each element added, removed, renamed, moved to another lane or
sub-process, each condition, timer, called procedure or decision table changed, and each
field of the family's form or of an agent step's form added, removed or changed. The layout
(positions, sizes) is not a change a family or an agent would notice, so it is left out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from lxml import etree

from coffre.catalogue import DOCUMENT_TYPES
from procedures.bpmn.diagrams import (
    BPMN,
    FLOW_NODES,
    NS,
    called_processes,
    lane_for,
    lanes_by_node,
    parse_xml,
)
from procedures.bpmn.diagrams import main_process as find_main_process
from procedures.definitions import Definition, FormField, RequiredDocument, TaskSettings

# The elements a person sees in the diagram (not the lanes, which hold them).
ELEMENTS = FLOW_NODES | {"sequenceFlow"}
KINDS = {
    "startEvent": "début", "endEvent": "fin", "userTask": "étape", "manualTask": "étape",
    "serviceTask": "opération", "scriptTask": "calcul", "task": "tâche",
    "exclusiveGateway": "choix", "parallelGateway": "parallèle", "inclusiveGateway": "choix",
    "eventBasedGateway": "attente", "boundaryEvent": "événement", "sequenceFlow": "flux",
    "intermediateCatchEvent": "attente", "intermediateThrowEvent": "événement",
    "subProcess": "sous-processus", "callActivity": "appel", "receiveTask": "réception",
    "sendTask": "envoi", "businessRuleTask": "décision",
}  # fmt: skip
FAMILY_FORM = "formulaire de la famille"


@dataclass(frozen=True)
class Change:
    """One change: `what` names the element or field, `change` says what happened."""

    kind: str  # added, removed, renamed, moved, changed
    what: str
    change: str
    element_id: str = ""


@dataclass(frozen=True)
class _Element:
    tag: str
    name: str
    place: str  # its lane, and the sub-process or called procedure it sits in
    details: tuple[tuple[str, str], ...]  # (what, value): condition, timer, called...


def changes(
    old_bpmn: str,
    new_bpmn: str,
    old: Definition,
    new: Definition,
    old_dmn: str = "",
    new_dmn: str = "",
) -> list[Change]:
    """Every change from the old version to the new one, diagram first, then forms."""
    found = list(_element_changes(_elements(old_bpmn), _elements(new_bpmn)))
    if _canonical(old_dmn) != _canonical(new_dmn):
        found.append(Change("changed", "tables de décision", "les règles ont changé"))
    found += _form_changes(FAMILY_FORM, old.fields, new.fields)
    for spec_id in sorted(set(old.tasks) | set(new.tasks)):
        found += _deadline_changes(spec_id, old.task(spec_id), new.task(spec_id))
        label = f"formulaire de l'étape « {spec_id} »"
        found += _form_changes(label, old.task(spec_id).form, new.task(spec_id).form, spec_id)
    found += _lane_changes(old.lanes, new.lanes)
    found += _end_changes(old.ends, new.ends)
    found += _document_changes(old.documents, new.documents)
    return found


def _elements(bpmn: str) -> dict[str, _Element]:
    root = parse_xml(bpmn.encode("utf-8"))
    process, _ = find_main_process(root)
    if process is None:
        return {}
    found: dict[str, _Element] = {}
    for owner in (process, *called_processes(root, process, [])):
        lanes = lanes_by_node(owner)
        prefix = "" if owner is process else f"procédure appelée « {_name(owner)} », "
        for element in owner.iter(*(f"{{{BPMN}}}{tag}" for tag in ELEMENTS)):
            tag = element.tag.rpartition("}")[2]
            inside = element.getparent()
            holder = f", dans « {_name(inside)} »" if inside is not owner else ""
            lane = lane_for(element, lanes)
            place = f"{prefix}couloir « {lane} »{holder}" if lane else f"{prefix}{holder[2:]}"
            found[element.get("id", "")] = _Element(tag, _name(element), place, _details(element))
    return found


def _details(element: etree._Element) -> tuple[tuple[str, str], ...]:
    details = []
    for what, path in (
        ("condition", "bpmn:conditionExpression"),
        ("minuterie", ".//bpmn:timeDuration"),
        ("minuterie", ".//bpmn:timeDate"),
        ("minuterie", ".//bpmn:timeCycle"),
        ("script", "bpmn:script"),
        ("table de décision", "bpmn:extensionElements/spiffworkflow:calledDecisionId"),
        ("opération", "bpmn:extensionElements/spiffworkflow:serviceTaskOperator"),
        ("boucle", "bpmn:multiInstanceLoopCharacteristics/bpmn:loopDataInputRef"),
    ):
        node = element.find(path, NS)
        if node is not None:
            value = node.get("id") if what == "opération" else " ".join((node.text or "").split())
            details.append((what, value or ""))
    if element.get("calledElement"):
        details.append(("procédure appelée", element.get("calledElement", "")))
    if element.get("cancelActivity") == "false":
        details.append(("interruption", "non interrompant"))
    return tuple(details)


def _element_changes(old: Mapping[str, _Element], new: Mapping[str, _Element]) -> Iterator[Change]:
    for element_id, element in new.items():
        before = old.get(element_id)
        label = f"{KINDS[element.tag]} « {element.name} »"
        if before is None:
            yield Change("added", label, f"ajouté ({element.place})", element_id)
            continue
        if before.name != element.name:
            what = f"{KINDS[element.tag]} « {before.name} »"
            yield Change("renamed", what, f"renommé « {element.name} »", element_id)
        if before.place != element.place:
            yield Change(
                "moved", label, f"déplacé de {before.place} vers {element.place}", element_id
            )
        old_details, new_details = dict(before.details), dict(element.details)
        for what in sorted(set(old_details) | set(new_details)):
            if old_details.get(what) != new_details.get(what):
                change = (
                    f"{what} : « {old_details.get(what, '')} » → « {new_details.get(what, '')} »"
                )
                yield Change("changed", label, change, element_id)
    for element_id, element in old.items():
        if element_id not in new:
            label = f"{KINDS[element.tag]} « {element.name} »"
            yield Change("removed", label, f"supprimé (était : {element.place})", element_id)


def _form_changes(
    form: str, old: Sequence[FormField], new: Sequence[FormField], element_id: str = ""
) -> Iterator[Change]:
    before = {field.name: field for field in old}
    after = {field.name: field for field in new}
    for name, field in after.items():
        label = f"{form}, champ « {field.label} »"
        previous = before.get(name)
        if previous is None:
            yield Change("added", label, f"ajouté ({field.type})", element_id)
        elif previous != field:
            what = [
                text
                for text, differs in (
                    (
                        f"libellé « {previous.label} » → « {field.label} »",
                        previous.label != field.label,
                    ),
                    (f"type {previous.type} → {field.type}", previous.type != field.type),
                    (
                        "obligatoire" if field.required else "facultatif",
                        previous.required != field.required,
                    ),
                    (f"choix : {', '.join(field.choices)}", previous.choices != field.choices),
                )
                if differs
            ]
            yield Change("changed", label, " ; ".join(what) or "modifié", element_id)
    for name, field in before.items():
        if name not in after:
            yield Change("removed", f"{form}, champ « {field.label} »", "supprimé", element_id)


def _deadline_changes(spec_id: str, old: TaskSettings, new: TaskSettings) -> Iterator[Change]:
    for what, unit, before, after in (
        ("délai de traitement", "h ouvrées", old.sla_hours, new.sla_hours),
        ("délai laissé à la famille", "jours", old.timeout_days, new.timeout_days),
    ):
        if before != after:
            change = f"{what} : {_amount(before, unit)} → {_amount(after, unit)}"
            yield Change("changed", f"étape « {spec_id} »", change, spec_id)


def _amount(value: int | None, unit: str) -> str:
    return "aucun" if value is None else f"{value} {unit}"


def _lane_changes(old: Mapping[str, str], new: Mapping[str, str]) -> Iterator[Change]:
    for lane in sorted(set(old) | set(new)):
        if old.get(lane) != new.get(lane):
            change = f"service « {old.get(lane, '—')} » → « {new.get(lane, '—')} »"
            yield Change("changed", f"couloir « {lane} »", change)


def _end_changes(old: Mapping[str, str], new: Mapping[str, str]) -> Iterator[Change]:
    for end in sorted(set(old) | set(new)):
        if old.get(end) != new.get(end):
            change = f"statut final « {old.get(end, '—')} » → « {new.get(end, '—')} »"
            yield Change("changed", f"fin « {end} »", change, end)


def _document_changes(
    old: Sequence[RequiredDocument], new: Sequence[RequiredDocument]
) -> Iterator[Change]:
    """The required documents, by type (and whether it is the child's)."""
    before = {(d.type, d.member): d for d in old}
    after = {(d.type, d.member): d for d in new}
    for key in sorted(set(before) | set(after), key=lambda k: (k[0], k[1] or "")):
        what = f"justificatif « {_document_label(key[0])} »" + (" de l'enfant" if key[1] else "")
        if key not in before:
            yield Change("added", what, "demandé")
        elif key not in after:
            yield Change("removed", what, "n'est plus demandé")
        elif before[key] != after[key]:
            yield Change(
                "changed", what, _document_rule(before[key]) + " → " + _document_rule(after[key])
            )


def _document_label(code: str) -> str:
    kind = DOCUMENT_TYPES.get(code)
    return kind.label if kind is not None else code


def _document_rule(document: RequiredDocument) -> str:
    rules = [f"{document.count} exemplaire(s)"] if document.count != 1 else []
    if document.max_age_months:
        rules.append(f"de moins de {document.max_age_months} mois")
    if document.valid_until_season:
        rules.append("valable à la rentrée")
    if document.any_of:
        rules.append("ou " + ", ".join(_document_label(code) for code in document.any_of))
    if document.when is not None:
        rules.append(f"si « {document.when.field} » vaut " + " ou ".join(document.when.values))
    return ", ".join(rules) or "sans condition"


def _canonical(dmn: str) -> str:
    return " ".join(dmn.split())


def _name(element: etree._Element) -> str:
    return " ".join((element.get("name") or element.get("id") or "").split())[:120]
