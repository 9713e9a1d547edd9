"""The procedures: built-in diagrams from `workflows_bpmn/`, published immutable versions."""

from __future__ import annotations

import json
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import Clock
from procedures.bpmn.diagrams import Diagram, DiagramRejected, load_diagram
from procedures.definitions import (
    FAMILY_LANE,
    RETENTION_ANONYMISE,
    RETENTION_FROM_CLOSING,
    Definition,
    DefinitionError,
    definition_from_dict,
    load_definition,
)
from procedures.errors import ProcedureClosed
from procedures.models import ProcedureVersion
from procedures.operations.registry import OPERATIONS

BUILT_IN = Path(__file__).resolve().parent.parent / "workflows_bpmn"


def built_in_codes() -> list[str]:
    """The codes of the diagrams shipped in `workflows_bpmn/`."""
    return sorted(path.stem for path in BUILT_IN.glob("*.bpmn"))


def read_built_in(code: str) -> tuple[Definition, bytes]:
    """The metadata and diagram of one built-in procedure."""
    definition = load_definition((BUILT_IN / f"{code}.toml").read_text(encoding="utf-8"))
    return definition, (BUILT_IN / f"{code}.bpmn").read_bytes()


def read_decisions(bpmn_path: Path) -> bytes:
    """The DMN decision tables beside a diagram (`<code>.dmn`), or nothing."""
    path = bpmn_path.with_suffix(".dmn")
    return path.read_bytes() if path.is_file() else b""


def check(definition: Definition, bpmn: bytes, decisions: bytes = b"") -> Diagram:
    """Load the diagram (and its decision tables) against its metadata; raises
    DiagramRejected with every problem."""
    return load_diagram(
        bpmn, definition.lanes, OPERATIONS.keys(), f"{definition.code}.bpmn", decisions
    )


def check_files(bpmn_path: Path) -> list[str]:
    """Every problem of a diagram file and of its `.toml` metadata beside it, in French."""
    try:
        content = bpmn_path.read_bytes()
    except OSError as exc:
        return [f"fichier illisible ({exc.strerror})"]
    metadata = bpmn_path.with_suffix(".toml")
    try:
        definition = load_definition(metadata.read_text(encoding="utf-8"))
    except OSError:
        return [f"métadonnées absentes : {metadata.name} est attendu à côté du diagramme"]
    except DefinitionError as exc:
        return exc.problems
    try:
        check(definition, content, read_decisions(bpmn_path))
    except DiagramRejected as exc:
        return [str(problem) for problem in exc.problems]
    return []


def metadata_json(definition: Definition) -> str:
    """The metadata as a published version stores it (a setting left unset is left out, so a
    version published before the setting existed compares equal)."""
    data = asdict(definition)
    for optional in ("back_office", "opens_on"):
        if data[optional] is None:
            del data[optional]
    if data["retention_rule"] == RETENTION_ANONYMISE:  # the default, as before it existed
        del data["retention_rule"]
    if data["retention_from"] == RETENTION_FROM_CLOSING:
        del data["retention_from"]
    for document in data["documents"]:
        if document["when"] is None:
            del document["when"]
    for form in (data["fields"], *(task["form"] for task in data["tasks"].values())):
        for item in form:
            if not item["from_child"]:
                del item["from_child"]
            if item["when"] is None:
                del item["when"]
    return json.dumps(data, ensure_ascii=False)


def publish(
    session: Session,
    clock: Clock,
    definition: Definition,
    bpmn: bytes,
    actor_id: int | None,
    decisions: bytes = b"",
) -> ProcedureVersion:
    """Check, then store a new immutable version and make it the current one."""
    check(definition, bpmn, decisions)
    _check_services(session, definition)
    latest = session.scalar(
        select(func.max(ProcedureVersion.version)).where(ProcedureVersion.code == definition.code)
    )
    session.execute(
        update(ProcedureVersion)
        .where(ProcedureVersion.code == definition.code)
        .values(is_current=False)
    )
    version = ProcedureVersion(
        code=definition.code,
        version=(latest or 0) + 1,
        title=definition.title,
        metadata_json=metadata_json(definition),
        bpmn_xml=bpmn.decode("utf-8"),
        dmn_xml=decisions.decode("utf-8"),
        published_at=clock.now(),
        published_by=actor_id,
        is_current=True,
    )
    session.add(version)
    session.flush()
    return version


def _check_services(session: Session, definition: Definition) -> None:
    codes = {code for code in definition.lanes.values() if code != FAMILY_LANE}
    known = set(session.scalars(select(Service.code).where(Service.code.in_(codes))))
    unknown = sorted(codes - known)
    if unknown:
        raise DefinitionError([f"service inconnu « {code} »" for code in unknown])


def publish_built_ins(session: Session, clock: Clock) -> list[ProcedureVersion]:
    """Publish each built-in procedure whose files differ from its current version."""
    published = []
    for code in built_in_codes():
        definition, bpmn = read_built_in(code)
        decisions = read_decisions(BUILT_IN / f"{code}.bpmn")
        current = current_version(session, code, required=False)
        unchanged = (
            current is not None
            and current.metadata_json == metadata_json(definition)
            and current.bpmn_xml == bpmn.decode("utf-8")
            and current.dmn_xml == decisions.decode("utf-8")
        )
        if not unchanged:
            published.append(publish(session, clock, definition, bpmn, None, decisions))
    session.commit()
    return published


def current_version(session: Session, code: str, required: bool = True) -> ProcedureVersion | None:
    """The version new demandes of this procedure start on."""
    version = session.scalar(
        select(ProcedureVersion).where(
            ProcedureVersion.code == code, ProcedureVersion.is_current.is_(True)
        )
    )
    if version is None and required:
        raise ProcedureClosed(f"no published procedure {code!r}")
    return version


def definition_of(version: ProcedureVersion) -> Definition:
    """The metadata of a published version."""
    return _definition(version.id, version.metadata_json)


def diagram_of(version: ProcedureVersion) -> Diagram:
    """The checked diagram of a published version (parsed once per process).

    Its spec is the one every workflow of the version runs on, started or restored: saved
    states name it rather than copy it.
    """
    return _diagram(version.id, version.metadata_json, version.bpmn_xml, version.dmn_xml or "")


@lru_cache(maxsize=256)
def _definition(version_id: int, metadata_json: str) -> Definition:
    return definition_from_dict(json.loads(metadata_json))


# A crèche-sized diagram takes about 45 KiB and 1.5 ms to parse and check.
@lru_cache(maxsize=256)
def _diagram(version_id: int, metadata_json: str, bpmn_xml: str, dmn_xml: str) -> Diagram:
    definition = _definition(version_id, metadata_json)
    return check(definition, bpmn_xml.encode("utf-8"), dmn_xml.encode("utf-8"))
