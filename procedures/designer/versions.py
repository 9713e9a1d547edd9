"""What the administrators read about procedures: the list, each one's versions, a diff."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import Account
from procedures.catalogue import definition_of
from procedures.designer.changes import Change, changes
from procedures.designer.publication import version_numbered
from procedures.models import Demande, ProcedureDraft, ProcedureVersion

DIFF_CONTEXT = 2


@dataclass(frozen=True)
class VersionSummary:
    version: int
    title: str
    published_at: datetime
    published_by: str | None  # None: published by the system (built-in diagrams)
    demandes: int
    is_current: bool


@dataclass(frozen=True)
class ProcedureSummary:
    code: str
    title: str
    current: int | None
    published_at: datetime | None
    versions: int
    demandes: int
    draft_updated_at: datetime | None


def procedures_overview(session: Session) -> list[ProcedureSummary]:
    """Every procedure, published or only drafted, with its current version."""
    versions = session.scalars(select(ProcedureVersion).order_by(ProcedureVersion.version)).all()
    counts = _demandes_per_version(session)
    drafts = {row.code: row.updated_at for row in session.scalars(select(ProcedureDraft))}
    by_code: dict[str, list[ProcedureVersion]] = {}
    for version in versions:
        by_code.setdefault(version.code, []).append(version)
    summaries = []
    for code in sorted(set(by_code) | set(drafts)):
        rows = by_code.get(code, [])
        current = next((row for row in rows if row.is_current), None)
        summaries.append(
            ProcedureSummary(
                code=code,
                title=current.title if current else code,
                current=current.version if current else None,
                published_at=current.published_at if current else None,
                versions=len(rows),
                demandes=sum(counts.get(row.id, 0) for row in rows),
                draft_updated_at=drafts.get(code),
            )
        )
    return summaries


def versions_of(session: Session, code: str) -> list[VersionSummary]:
    """A procedure's versions, newest first: who published each, when, how many demandes."""
    counts = _demandes_per_version(session)
    rows = session.execute(
        select(ProcedureVersion, Account.display_name)
        .outerjoin(Account, Account.id == ProcedureVersion.published_by)
        .where(ProcedureVersion.code == code)
        .order_by(ProcedureVersion.version.desc())
    ).all()
    return [
        VersionSummary(
            version=version.version,
            title=version.title,
            published_at=version.published_at,
            published_by=name,
            demandes=counts.get(version.id, 0),
            is_current=version.is_current,
        )
        for version, name in rows
    ]


def _demandes_per_version(session: Session) -> dict[int, int]:
    rows = session.execute(
        select(Demande.procedure_version_id, func.count()).group_by(Demande.procedure_version_id)
    ).all()
    return {int(version_id): int(count) for version_id, count in rows}


@dataclass(frozen=True)
class DiffRow:
    """One line pair: `kind` is equal, replace, delete, insert, or gap (lines left out)."""

    kind: str
    left_number: int | None
    left: str
    right_number: int | None
    right: str


@dataclass(frozen=True)
class VersionDiff:
    left: int
    right: int
    rows: list[DiffRow]
    diagram_changed: bool
    elements: list[Change] = field(default_factory=list)  # element by element, in French

    @property
    def metadata_changed(self) -> bool:
        return any(row.kind not in ("equal", "gap") for row in self.rows)


def diff_versions(session: Session, code: str, left: int, right: int) -> VersionDiff:
    """The metadata of two versions, line by line (changes with a little context)."""
    old, new = version_numbered(session, code, left), version_numbered(session, code, right)
    old_lines, new_lines = _lines(old.metadata_json), _lines(new.metadata_json)
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    rows: list[DiffRow] = []
    for group in matcher.get_grouped_opcodes(DIFF_CONTEXT):
        if rows:
            rows.append(DiffRow("gap", None, "…", None, "…"))
        for kind, i1, i2, j1, j2 in group:
            rows.extend(_pairs(kind, old_lines, i1, i2, new_lines, j1, j2))
    elements = changes(
        old.bpmn_xml, new.bpmn_xml, definition_of(old), definition_of(new),
        old.dmn_xml or "", new.dmn_xml or "",
    )  # fmt: skip
    return VersionDiff(left, right, rows, old.bpmn_xml != new.bpmn_xml, elements)


def _lines(metadata_json: str) -> list[str]:
    return json.dumps(json.loads(metadata_json), indent=2, ensure_ascii=False).splitlines()


def _pairs(
    kind: str, old: list[str], i1: int, i2: int, new: list[str], j1: int, j2: int
) -> list[DiffRow]:
    rows = []
    for offset in range(max(i2 - i1, j2 - j1)):
        i, j = i1 + offset, j1 + offset
        left_number, left = (i + 1, old[i]) if i < i2 else (None, "")
        right_number, right = (j + 1, new[j]) if j < j2 else (None, "")
        rows.append(DiffRow(kind, left_number, left, right_number, right))
    return rows
