"""The procedure designer's services: drafts and their checks, publication, rollback, import.

A procedure has at most one draft (`ProcedureDraft`): the diagram being edited and its
metadata as TOML. Saving keeps the draft whatever its state and returns its problems, each
naming the diagram element to highlight; publishing refuses a draft with problems and makes
it a new immutable version (`catalogue.publish`); running demandes stay on their version.
Procedures are the installation's: only a global administrator changes them, and each
publication, rollback, import and discarded draft is written to the administrative journal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from accounts.models import Account, Service
from accounts.organisation import Administrator, OutsideScope, administrator, record
from coffre.catalogue import DOCUMENT_TYPES
from coffre.clock import Clock
from procedures import catalogue
from procedures.bpmn.diagrams import (
    BPMN,
    MAX_DIAGRAM_BYTES,
    NS,
    DiagramRejected,
    main_process,
    parse_xml,
)
from procedures.definitions import (
    FAMILY_LANE,
    Definition,
    DefinitionError,
    RequiredDocument,
    load_definition,
    parse_condition,
)
from procedures.designer.form_schemas import FormSchemaError, fields_of, schema_of
from procedures.designer.importing import ImportResult, import_diagram, service_codes
from procedures.designer.layout import with_layout
from procedures.designer.metadata import definition_toml, toml_text
from procedures.designer.policy import policy_problems
from procedures.models import ProcedureDraft, ProcedureVersion

MAX_METADATA_CHARS = 200_000


class DesignerError(Exception):
    """Base of the designer's refusals."""


class ProcedureUnknown(DesignerError):
    """No published version and no draft carry this code."""


class DraftInvalid(DesignerError):
    """The draft (or the version to republish) has problems; nothing was published."""

    def __init__(self, problems: list[DraftProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


class ProcedureExists(DesignerError):
    """A new procedure was asked for with the code of a published one or of a draft."""


class DraftTooLarge(DraftInvalid):
    """The draft's diagram, tables or metadata exceed the size allowed; nothing was saved."""


@dataclass(frozen=True)
class DraftProblem:
    """One reason the draft cannot be published, in French; `element_id` to highlight."""

    message: str
    element_id: str = ""


FAMILY_FORM = "famille"  # the key of the family's form among the forms to edit
ANSWERED_TASKS = ("userTask", "manualTask", "receiveTask")
# The statuses an end event may give a demande (the properties panel offers them).
END_STATUSES = ("acceptee", "refusee", "classee")


@dataclass(frozen=True)
class Draft:
    """What the designer edits: the saved draft, or the current version when there is none."""

    code: str
    bpmn_xml: str
    metadata_toml: str
    saved: bool
    updated_at: datetime | None = None
    updated_by: str | None = None
    problems: list[DraftProblem] = field(default_factory=list)
    dmn_xml: str = ""  # the decision tables, versioned with the diagram
    # What the policy check would refuse at publication, listed while editing (only once
    # the draft has no problem of its own).
    before_publishing: list[DraftProblem] = field(default_factory=list)


def open_draft(session: Session, code: str) -> Draft:
    """The draft of a procedure, or a new one from its current version (with a drawing)."""
    row = session.get(ProcedureDraft, code)
    if row is not None:
        problems = draft_problems(session, code, row.bpmn_xml, row.metadata_toml, row.dmn_xml)
        policy = [] if problems else _policy(session, row.bpmn_xml, row.metadata_toml, row.dmn_xml)
        return Draft(
            code, row.bpmn_xml, row.metadata_toml, True, row.updated_at,
            _name(session, row.updated_by), problems, row.dmn_xml, policy,
        )  # fmt: skip
    current = catalogue.current_version(session, code, required=False)
    if current is None:
        raise ProcedureUnknown(code)
    toml = definition_toml(catalogue.definition_of(current))
    return Draft(code, with_layout(current.bpmn_xml), toml, saved=False, dmn_xml=current.dmn_xml)


def _policy(
    session: Session, bpmn_xml: str, metadata_toml: str, dmn_xml: str = ""
) -> list[DraftProblem]:
    definition = load_definition(metadata_toml)
    found = policy_problems(
        session, definition, bpmn_xml.encode("utf-8"), metadata_toml, dmn_xml.encode("utf-8")
    )
    return [DraftProblem(problem.message, problem.element_id) for problem in found]


def save_draft(
    session: Session,
    clock: Clock,
    code: str,
    bpmn_xml: str,
    metadata_toml: str,
    actor_id: int,
    dmn_xml: str | None = None,
    forms: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Draft:
    """Keep the edited diagram and metadata (and decision tables: None keeps those of the
    draft or current version) as the draft, valid or not; return its problems.

    `forms`: form-js schemas made in the form builder, by form (`FAMILY_FORM` or a step's
    id): they replace those forms' fields in the metadata. A schema the portal cannot use
    raises DraftInvalid and nothing is saved.
    """
    _global_administrator(session, actor_id)
    row = session.get(ProcedureDraft, code)
    current = catalogue.current_version(session, code, required=False) if row is None else None
    if row is None and current is None:
        raise ProcedureUnknown(code)
    if forms:
        metadata_toml = with_forms(metadata_toml, forms)
    if settings:
        metadata_toml = with_settings(metadata_toml, settings)
    if dmn_xml is None:  # the tables as they stand, without checking the whole draft for them
        dmn_xml = row.dmn_xml if row is not None else current.dmn_xml if current else ""
    _store(session, clock, code, bpmn_xml, metadata_toml, actor_id, dmn_xml)
    session.commit()
    return open_draft(session, code)


def with_forms(metadata_toml: str, forms: Mapping[str, Any]) -> str:
    """The metadata with the forms built in the form builder in place of their fields (as it
    stands when the metadata itself has problems: they are listed, the forms wait)."""
    try:
        definition = load_definition(metadata_toml)
    except DefinitionError:
        return metadata_toml
    fields, tasks, problems = definition.fields, dict(definition.tasks), []
    for key, schema in forms.items():
        try:
            built = fields_of(schema)
        except FormSchemaError as exc:
            label = "formulaire de la famille" if key == FAMILY_FORM else f"étape « {key} »"
            problems += [DraftProblem(f"{label} : {problem}", "" if key == FAMILY_FORM else key)
                         for problem in exc.problems]  # fmt: skip
            continue
        if key == FAMILY_FORM:
            fields = built
        else:
            tasks[str(key)] = dataclasses.replace(definition.task(str(key)), form=built)
    if problems:
        raise DraftInvalid(problems)
    return definition_toml(dataclasses.replace(definition, fields=fields, tasks=tasks))


MAX_SLA_HOURS = 24 * 365
MAX_TIMEOUT_DAYS = 366


def with_settings(metadata_toml: str, settings: Mapping[str, Any]) -> str:
    """The metadata with what the properties panel set: each lane's service (`lanes`: lane
    name -> service code or "famille"), each step's deadlines (`tasks`: step id ->
    `sla_hours`, `timeout_days`; null removes one), the status each end gives the demande
    (`ends`: end id -> one of END_STATUSES; null or "" removes it), the required documents
    (`documents`: the whole list, replacing the metadata's). Refused as a whole when one is
    invalid."""
    try:
        definition = load_definition(metadata_toml)
    except DefinitionError:
        return metadata_toml
    lanes, tasks, ends = dict(definition.lanes), dict(definition.tasks), dict(definition.ends)
    problems: list[DraftProblem] = []
    raw_lanes = settings.get("lanes") or {}
    raw_tasks = settings.get("tasks") or {}
    raw_ends = settings.get("ends") or {}
    if not all(isinstance(raw, Mapping) for raw in (raw_lanes, raw_tasks, raw_ends)):
        raise DraftInvalid([DraftProblem("réglages illisibles (couloirs et étapes attendus)")])
    documents = definition.documents
    if "documents" in settings and settings["documents"] is not None:
        documents = _documents(settings["documents"], problems)
    for end_id, status in raw_ends.items():
        if status in (None, ""):
            ends.pop(str(end_id), None)
        elif status in END_STATUSES:
            ends[str(end_id)[:200]] = str(status)
        else:
            problems.append(
                DraftProblem(
                    f"fin « {str(end_id)[:80]} » : statut inconnu (attendu : "
                    f"{', '.join(END_STATUSES)})",
                    str(end_id)[:200],
                )
            )
    for lane, code in raw_lanes.items():
        if not isinstance(code, str) or len(code) > 60:
            problems.append(DraftProblem(f"couloir « {str(lane)[:80]} » : service illisible"))
        else:
            lanes[str(lane)[:200]] = code
    for spec_id, values in raw_tasks.items():
        if not isinstance(values, Mapping):
            problems.append(DraftProblem(f"étape « {str(spec_id)[:80]} » : réglages illisibles"))
            continue
        current = definition.task(str(spec_id))
        sla = _bounded(values.get("sla_hours", current.sla_hours), MAX_SLA_HOURS)
        timeout = _bounded(values.get("timeout_days", current.timeout_days), MAX_TIMEOUT_DAYS)
        if sla is False or timeout is False:
            problems.append(
                DraftProblem(
                    f"étape « {str(spec_id)[:80]} » : délai invalide (un nombre entier d'heures "
                    f"ouvrées, jusqu'à {MAX_SLA_HOURS}, ou de jours, jusqu'à {MAX_TIMEOUT_DAYS})",
                    str(spec_id)[:200],
                )
            )
            continue
        tasks[str(spec_id)] = dataclasses.replace(current, sla_hours=sla, timeout_days=timeout)
    if problems:
        raise DraftInvalid(problems)
    changed = dataclasses.replace(
        definition, lanes=lanes, tasks=tasks, ends=ends, documents=documents
    )
    return definition_toml(changed)


MAX_DOCUMENTS = 30
MAX_DOCUMENT_AGE_MONTHS = 120


def _documents(raw: Any, problems: list[DraftProblem]) -> tuple[RequiredDocument, ...]:
    """The required documents the panel lists, each checked; problems named by position."""
    if not isinstance(raw, list) or len(raw) > MAX_DOCUMENTS:
        problems.append(
            DraftProblem(f"justificatifs illisibles (une liste d'au plus {MAX_DOCUMENTS})")
        )
        return ()
    documents: list[RequiredDocument] = []
    for number, item in enumerate(raw, start=1):
        where = f"justificatif n° {number}"
        if not isinstance(item, Mapping):
            problems.append(DraftProblem(f"{where} : réglages illisibles"))
            continue
        kind = item.get("type")
        others = item.get("any_of") or []
        age = _bounded(item.get("max_age_months"), MAX_DOCUMENT_AGE_MONTHS)
        count = _bounded(item.get("count") or 1, 10)
        unreadable: list[str] = []  # the condition, kept from the metadata (no panel edits it)
        when = parse_condition(item.get("when"), where, unreadable)
        if kind not in DOCUMENT_TYPES:
            problems.append(DraftProblem(f"{where} : choisissez un type de document du coffre"))
        elif not isinstance(others, list) or any(o not in DOCUMENT_TYPES for o in others):
            problems.append(DraftProblem(f"{where} : un type accepté à sa place n'existe pas"))
        elif age is False or count is False or count is None:
            problems.append(
                DraftProblem(
                    f"{where} : ancienneté invalide (un nombre entier de mois, jusqu'à "
                    f"{MAX_DOCUMENT_AGE_MONTHS})"
                )
            )
        elif item.get("member") not in (None, "", "child"):
            problems.append(DraftProblem(f"{where} : « member » vaut « child » ou rien"))
        elif unreadable:
            problems.append(DraftProblem(unreadable[0]))
        else:
            documents.append(
                RequiredDocument(
                    type=str(kind),
                    count=int(count),
                    max_age_months=age if isinstance(age, int) else None,
                    valid_until_season=item.get("valid_until_season") is True,
                    member="child" if item.get("member") == "child" else None,
                    any_of=tuple(str(o) for o in others if o != kind),
                    when=when,
                )
            )
    return tuple(documents)


def _bounded(value: Any, maximum: int) -> int | bool | None:
    """A positive whole number up to `maximum`, None for "none", False when invalid."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return False
    try:
        number = int(str(value))
    except ValueError:
        return False
    return number if 0 < number <= maximum else False


def panel_settings(session: Session, draft: Draft) -> dict[str, Any]:
    """What the properties panel shows: the services a lane may go to (and the family), each
    lane's service and each step's deadlines as the metadata sets them."""
    services = [
        [code, name]
        for code, name in session.execute(select(Service.code, Service.name).order_by(Service.name))
    ]
    services.append([FAMILY_LANE, "La famille"])
    document_types = sorted(
        ([kind.code, kind.label] for kind in DOCUMENT_TYPES.values()), key=lambda t: t[1]
    )
    try:
        definition = load_definition(draft.metadata_toml)
    except DefinitionError:
        return {"services": services, "lanes": {}, "tasks": {}, "ends": {}, "documents": None,
                "document_types": document_types}  # fmt: skip
    tasks = {
        spec_id: {"sla_hours": task.sla_hours, "timeout_days": task.timeout_days}
        for spec_id, task in definition.tasks.items()
    }
    lanes, ends = dict(definition.lanes), dict(definition.ends)
    documents = [
        {**dataclasses.asdict(required), "any_of": list(required.any_of)}
        for required in definition.documents
    ]
    return {"services": services, "lanes": lanes, "tasks": tasks, "ends": ends,
            "documents": documents, "document_types": document_types}  # fmt: skip


@dataclass(frozen=True)
class FormToEdit:
    """One form of the procedure for the form builder: the family's, or a step's."""

    key: str
    label: str
    schema: dict[str, Any]


def forms_to_edit(draft: Draft) -> list[FormToEdit]:
    """The family's form, then one per step someone answers (human tasks, the family's or a
    partner's awaited messages), as form-js schemas; none when the metadata is unreadable."""
    try:
        definition = load_definition(draft.metadata_toml)
        root = parse_xml(draft.bpmn_xml.encode("utf-8"))
    except (DefinitionError, DiagramRejected):
        return []
    forms = [FormToEdit(FAMILY_FORM, "Formulaire de la famille", schema_of(definition.fields))]
    steps = {node.get("id", ""): node.get("name") or node.get("id", "") for node in _answered(root)}
    for spec_id in sorted(set(steps) | set(definition.tasks), key=lambda s: steps.get(s, s)):
        label = f"Étape « {steps.get(spec_id, spec_id)} »"
        forms.append(FormToEdit(spec_id, label, schema_of(definition.task(spec_id).form, spec_id)))
    return forms


def _answered(root: etree._Element) -> list[etree._Element]:
    """The elements someone answers with a form: human tasks, and message waits."""
    found = [node for tag in ANSWERED_TASKS for node in root.iter(f"{{{BPMN}}}{tag}")]
    for event in root.iter(f"{{{BPMN}}}intermediateCatchEvent"):
        if event.find("bpmn:messageEventDefinition", NS) is not None:
            found.append(event)
    return found


def _store(
    session: Session,
    clock: Clock,
    code: str,
    bpmn_xml: str,
    metadata_toml: str,
    actor_id: int,
    dmn_xml: str = "",
) -> None:
    too_large = max(len(bpmn_xml.encode("utf-8")), len(dmn_xml.encode("utf-8"))) > MAX_DIAGRAM_BYTES
    if too_large or len(metadata_toml) > MAX_METADATA_CHARS:
        raise DraftTooLarge([DraftProblem("le brouillon dépasse la taille autorisée")])
    row = session.get(ProcedureDraft, code) or ProcedureDraft(code=code)
    row.bpmn_xml, row.metadata_toml, row.dmn_xml = bpmn_xml, metadata_toml, dmn_xml
    row.updated_at, row.updated_by = clock.now(), actor_id
    session.add(row)
    session.flush()


def draft_problems(
    session: Session, code: str, bpmn_xml: str, metadata_toml: str, dmn_xml: str = ""
) -> list[DraftProblem]:
    """Every problem of a draft: metadata, the engine's checks of the diagram, services."""
    try:
        definition = load_definition(metadata_toml)
    except DefinitionError as exc:
        return [DraftProblem(f"métadonnées : {problem}") for problem in exc.problems]
    if definition.code != code:
        return [DraftProblem(f"métadonnées : le code doit rester « {code} »")]
    bpmn = bpmn_xml.encode("utf-8")
    try:
        catalogue.check(definition, bpmn, dmn_xml.encode("utf-8"))
    except DiagramRejected as exc:
        return [DraftProblem(str(problem), problem.element_id) for problem in exc.problems]
    return _service_problems(session, definition, bpmn) + _metadata_problems(definition, bpmn)


def _service_problems(session: Session, definition: Definition, bpmn: bytes) -> list[DraftProblem]:
    known = set(session.scalars(select(Service.code)))
    lane_ids = {lane.get("name", ""): lane.get("id", "") for lane in _all(bpmn, "lane")}
    return [
        DraftProblem(
            f"couloir « {lane} » : "
            + (
                f"service inconnu « {service} »"
                if service
                else "aucun service choisi. Sélectionnez le couloir et choisissez, dans le "
                "panneau des propriétés, le service qui traite ses étapes."
            ),
            lane_ids.get(lane, ""),
        )
        for lane, service in definition.lanes.items()
        if service != FAMILY_LANE and service not in known
    ]


def _metadata_problems(definition: Definition, bpmn: bytes) -> list[DraftProblem]:
    """Settings naming a task or an end event the diagram does not have (a typo, a removal)."""
    human = {node.get("id") for node in _answered(parse_xml(bpmn))}
    ends = {node.get("id") for node in _all(bpmn, "endEvent")}
    problems = [
        DraftProblem(
            f"métadonnées : [tasks.{spec_id}] ne correspond à aucune étape du diagramme "
            "(tâche humaine ou attente d'un message)"
        )
        for spec_id in definition.tasks
        if spec_id not in human
    ]
    problems += [
        DraftProblem(f"métadonnées : [ends] « {end} » ne correspond à aucun événement de fin")
        for end in definition.ends
        if end not in ends
    ]
    return problems


def _all(bpmn: bytes, tag: str) -> list[etree._Element]:
    return list(parse_xml(bpmn).iterfind(f"bpmn:process//{{{BPMN}}}{tag}", NS))


def publish_draft(session: Session, clock: Clock, code: str, actor_id: int) -> ProcedureVersion:
    """Publish the saved draft as a new version; the draft is then gone."""
    actor = _global_administrator(session, actor_id)
    row = session.get(ProcedureDraft, code)
    if row is None:
        raise DraftInvalid([DraftProblem("aucun brouillon enregistré : rien à publier")])
    problems = draft_problems(session, code, row.bpmn_xml, row.metadata_toml, row.dmn_xml)
    if problems:
        raise DraftInvalid(problems)
    definition = load_definition(row.metadata_toml)
    # The policy: what would make the procedure fail its families, each with its fix.
    refused = _policy(session, row.bpmn_xml, row.metadata_toml, row.dmn_xml)
    if refused:
        raise DraftInvalid(refused)
    before = _current_state(session, code)
    version = catalogue.publish(
        session, clock, definition, row.bpmn_xml.encode("utf-8"), actor_id,
        row.dmn_xml.encode("utf-8"),
    )  # fmt: skip
    session.execute(delete(ProcedureDraft).where(ProcedureDraft.code == code))
    _journal(session, clock, actor, "procedure_published", code, before, _state(version))
    session.commit()
    return version


def republish(
    session: Session, clock: Clock, code: str, number: int, actor_id: int
) -> ProcedureVersion:
    """Roll back: publish an old version's diagram and metadata again, as a new version."""
    actor = _global_administrator(session, actor_id)
    old = version_numbered(session, code, number)
    before = _current_state(session, code)
    try:
        version = catalogue.publish(
            session, clock, catalogue.definition_of(old), old.bpmn_xml.encode("utf-8"),
            actor_id, old.dmn_xml.encode("utf-8"),
        )  # fmt: skip
    except DiagramRejected as exc:
        raise DraftInvalid([DraftProblem(str(p), p.element_id) for p in exc.problems]) from None
    except DefinitionError as exc:
        raise DraftInvalid([DraftProblem(problem) for problem in exc.problems]) from None
    after = {**_state(version), "republished": number}
    _journal(session, clock, actor, "procedure_republished", code, before, after)
    session.commit()
    return version


def version_numbered(session: Session, code: str, number: int) -> ProcedureVersion:
    """One published version of a procedure, by its number."""
    version = session.scalar(
        select(ProcedureVersion).where(
            ProcedureVersion.code == code, ProcedureVersion.version == number
        )
    )
    if version is None:
        raise ProcedureUnknown(f"{code} v{number}")
    return version


def import_into_draft(
    session: Session, clock: Clock, code: str, data: bytes, filename: str, actor_id: int
) -> ImportResult:
    """Import a `.bpmn` file; when accepted it becomes the procedure's draft diagram.

    The draft keeps its metadata (or the current version's); a new code starts a new
    procedure whose metadata is drafted from the diagram's lanes and end events.
    """
    actor = _global_administrator(session, actor_id)
    result = import_diagram(data, filename=filename, services=service_codes(session))
    if not result.accepted or result.xml is None:
        return result
    existing = session.get(ProcedureDraft, code)
    if existing is not None:
        metadata = existing.metadata_toml
    elif _published(session, code):
        metadata = open_draft(session, code).metadata_toml
    else:
        metadata = _new_metadata(code, result)
    _store(session, clock, code, with_layout(result.xml), metadata, actor_id)
    after: dict[str, object] = {"draft": "imported", "filename": filename[:200]}
    _journal(
        session, clock, actor, "procedure_imported", code, _current_state(session, code), after
    )
    session.commit()
    return result


# The diagram a new procedure starts from: the town's pool, one lane to map to a service and
# the start event, drawn, so that the administrator builds the rest in the modeler (the start
# far enough right that the modeler's palette, over the canvas's left edge, leaves it seen).
EMPTY_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
    xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="Definitions_{code}" targetNamespace="https://portail-famille.example/bpmn">
  <bpmn:collaboration id="Collaboration_{code}">
    <bpmn:participant id="Pool_mairie" name="Mairie" processRef="{code}" />
  </bpmn:collaboration>
  <bpmn:process id="{code}" name="{title}" isExecutable="true">
    <bpmn:laneSet id="LaneSet_{code}">
      <bpmn:lane id="Lane_service" name="{lane}">
        <bpmn:flowNodeRef>Debut</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="Debut" name="Demande déposée" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_{code}">
    <bpmndi:BPMNPlane id="Plane_{code}" bpmnElement="Collaboration_{code}">
      <bpmndi:BPMNShape id="Pool_mairie_di" bpmnElement="Pool_mairie" isHorizontal="true">
        <dc:Bounds x="100" y="60" width="1200" height="400" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_service_di" bpmnElement="Lane_service" isHorizontal="true">
        <dc:Bounds x="130" y="60" width="1170" height="400" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Debut_di" bpmnElement="Debut">
        <dc:Bounds x="332" y="242" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""
EMPTY_LANE = "Service instructeur"


def new_draft(session: Session, clock: Clock, code: str, title: str, actor_id: int) -> Draft:
    """Start a new procedure from an empty diagram: its draft, with metadata to complete.

    Refused (ProcedureExists) when the code is a published procedure's or a draft's.
    """
    actor = _global_administrator(session, actor_id)
    if session.get(ProcedureDraft, code) is not None or _published(session, code):
        raise ProcedureExists(code)
    title = " ".join(title.split())[:200] or code
    xml = EMPTY_DIAGRAM.format(code=code, title=escape(title, {'"': "&quot;"}), lane=EMPTY_LANE)
    metadata = toml_text(
        {
            "code": code,
            "title": title,
            "description": "",
            "retention_days": 1825,
            "lanes": {EMPTY_LANE: ""},
        }
    )
    _store(session, clock, code, xml, metadata, actor_id)
    _journal(session, clock, actor, "procedure_draft_created", code, None, {"draft": "empty"})
    session.commit()
    return open_draft(session, code)


def _new_metadata(code: str, result: ImportResult) -> str:
    process = result.processes[0]
    root = parse_xml((result.xml or "").encode("utf-8"))
    main, _ = main_process(root)  # its own end events: a sub-process's do not end a demande
    ends = list(main.iterchildren(f"{{{BPMN}}}endEvent")) if main is not None else []
    return toml_text(
        {
            "code": code,
            "title": process.name or code,
            "description": "",
            "retention_days": 1825,
            "lanes": {lane.name: lane.service or "" for lane in process.lanes},
            "ends": {end.get("id", ""): "classee" for end in ends},
        }
    )


def delete_draft(session: Session, clock: Clock, code: str, actor_id: int) -> None:
    """Drop the draft: the designer starts again from the current version."""
    actor = _global_administrator(session, actor_id)
    row = session.get(ProcedureDraft, code)
    if row is None:
        return
    session.delete(row)
    _journal(session, clock, actor, "procedure_draft_discarded", code, {"draft": "saved"}, None)
    session.commit()


def _global_administrator(session: Session, actor_id: int) -> Administrator:
    actor = administrator(session, actor_id)
    if not actor.is_global:
        raise OutsideScope()  # procedures serve every entity: only the installation's admins
    return actor


def _state(version: ProcedureVersion) -> dict[str, object]:
    return {"version": version.version, "title": version.title}


def _current_state(session: Session, code: str) -> dict[str, object] | None:
    current = catalogue.current_version(session, code, required=False)
    return _state(current) if current is not None else None


def _journal(
    session: Session,
    clock: Clock,
    actor: Administrator,
    action: str,
    code: str,
    before: dict[str, object] | None,
    after: dict[str, object] | None,
) -> None:
    target = ("procedure", code)
    record(session, clock, actor, action=action, target=target, entity_id=None, before=before,
           after=after)  # fmt: skip


def _published(session: Session, code: str) -> bool:
    return catalogue.current_version(session, code, required=False) is not None


def _name(session: Session, account_id: int | None) -> str | None:
    if account_id is None:
        return None
    account = session.get(Account, account_id)
    return account.display_name if account is not None else None
