"""Check the journal against its checkpoints: what was deleted or rewritten, and what is unanchored.

The chains are first checked on their own (`journal.verify`); that cannot see a chain that was
cut and re-hashed by someone with write access to the database. So every chain is then compared
with the last validly signed checkpoint read from the object store (never from the database,
whose copy an attacker may delete): an anchored head that no longer matches, or a chain shorter
than its checkpoint, is named with the range of entries concerned, bounded below by the newest
earlier checkpoint that still matches. The newest checkpoint is enough: `coffre.journal.anchoring`
writes one only over a journal that matches the one before, so each extends the last.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from coffre.journal import chain as journal
from coffre.journal.checkpoints import (
    Checkpoint,
    CheckpointUnreadable,
    Head,
    read_checkpoint,
    stored_keys,
)
from coffre.journal.signing_key import key_id, signature_valid
from coffre.journal.timestamping import TimestampError, check_timestamp
from coffre.models import JournalCheckpoint, JournalEntry
from stockage import ObjectStore


@dataclass(frozen=True)
class AnchorProblem:
    """Something the checkpoints show: tampered chain, forged or missing checkpoint, bad token."""

    kind: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}: {self.detail}"


@dataclass(frozen=True)
class Auditor:
    """What checking needs: the store, the journal's public key, maybe the TSA's certificates."""

    store: ObjectStore
    public_key: Ed25519PublicKey
    tsa_roots: tuple[x509.Certificate, ...] = ()


@dataclass
class AuditReport:
    broken: list[journal.JournalProblem] = field(default_factory=list)
    problems: list[AnchorProblem] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    timestamped_at: datetime | None = None
    unanchored: int = 0

    @property
    def intact(self) -> bool:
        return not self.broken and not self.problems


@dataclass(frozen=True)
class AnchorCheck:
    """The newest valid checkpoint (None if none), entries added since, and what does not match:
    forged checkpoints met on the way and chains that no longer match their anchored head."""

    checkpoint: Checkpoint | None
    unanchored: int
    problems: list[AnchorProblem]

    @property
    def tampered(self) -> list[AnchorProblem]:
        return [problem for problem in self.problems if problem.kind == "tampered"]


@dataclass
class _Position:
    """A chain in the database: its last sequence number and its hash at the anchored one."""

    last_seq: int = 0
    anchored_hash: str | None = None


def audit(session: Session, auditor: Auditor) -> AuditReport:
    """Check every chain on its own, then against the last valid checkpoint of the store."""
    report = AuditReport(broken=journal.verify(session))
    keys = stored_keys(auditor.store)
    report.problems += _compare_listings(session, keys)
    anchors = check_anchors(session, auditor, keys)
    report.problems += anchors.problems
    report.checkpoint, report.unanchored = anchors.checkpoint, anchors.unanchored
    if report.checkpoint is not None:
        report.timestamped_at = _timestamp(report.checkpoint, auditor, report.problems)
    return report


def check_anchors(session: Session, auditor: Auditor, keys: list[str] | None = None) -> AnchorCheck:
    """Compare the chains with the newest validly signed checkpoint of the store."""
    checkpoints = _Checkpoints(auditor, stored_keys(auditor.store) if keys is None else keys)
    last = next(checkpoints.newest_first(), None)
    anchored = last.heads if last else {}
    positions = _positions(session, anchored)
    for chain, head in sorted(anchored.items()):
        position = positions.get(chain, _Position())
        if position.anchored_hash != head.hash:
            assert last is not None
            intact = _last_intact(session, chain, checkpoints)
            checkpoints.problems.append(_tampered(chain, head, position, last, intact))
    unanchored = sum(
        max(0, position.last_seq - anchored.get(chain, Head(0, "")).seq)
        for chain, position in positions.items()
    )
    return AnchorCheck(last, unanchored, checkpoints.problems)


class _Checkpoints:
    """The store's checkpoints, newest first, each read and checked once; bad ones reported."""

    def __init__(self, auditor: Auditor, keys: list[str]) -> None:
        self._auditor, self._keys = auditor, keys
        self._checked: dict[str, Checkpoint | None] = {}
        self.problems: list[AnchorProblem] = []

    def newest_first(self) -> Iterator[Checkpoint]:
        for key in reversed(self._keys):
            if key not in self._checked:
                self._checked[key] = self._read(key)
            found = self._checked[key]
            if found is not None:
                yield found

    def _read(self, key: str) -> Checkpoint | None:
        try:
            checkpoint = read_checkpoint(self._auditor.store, key)
        except CheckpointUnreadable as exc:
            self.problems.append(AnchorProblem("forged", f"checkpoint {key}", str(exc)))
            return None
        public_key, expected = self._auditor.public_key, key_id(self._auditor.public_key)
        if checkpoint.signer != expected:
            detail = f"signed by key {checkpoint.signer}, not by the journal key {expected}"
        elif not signature_valid(public_key, checkpoint.signature, checkpoint.payload):
            detail = "bad signature"
        else:
            return checkpoint
        self.problems.append(AnchorProblem("forged", f"checkpoint {key}", detail))
        return None


def _compare_listings(session: Session, keys: list[str]) -> list[AnchorProblem]:
    """The database lists what was written: a difference means a row or an object went away."""
    in_store = set(keys)
    in_database = set(session.scalars(select(JournalCheckpoint.store_key)))
    return [
        AnchorProblem(
            "missing",
            f"checkpoint {key}",
            "in the store but not in the database (deleted there, or its commit failed)",
        )
        for key in sorted(in_store - in_database)
    ] + [
        AnchorProblem("missing", f"checkpoint {key}", "in the database but not in the store")
        for key in sorted(in_database - in_store)
    ]


def _positions(session: Session, heads: dict[str, Head]) -> dict[str, _Position]:
    """One pass over the entries' (chain, seq, hash): each chain's end and anchored hash."""
    positions: dict[str, _Position] = {}
    query = select(JournalEntry.chain, JournalEntry.seq, JournalEntry.hash)
    with session.execute(query.execution_options(yield_per=5000)) as rows:
        for chain, seq, entry_hash in rows:
            position = positions.setdefault(chain, _Position())
            position.last_seq = max(position.last_seq, seq)
            head = heads.get(chain)
            if head is not None and head.seq == seq:
                position.anchored_hash = entry_hash
    return positions


def _last_intact(session: Session, chain: str, checkpoints: _Checkpoints) -> tuple[int, datetime]:
    """The newest earlier checkpoint whose head of this chain still matches: (its seq, its time)."""
    query = select(JournalEntry.seq, JournalEntry.hash).where(JournalEntry.chain == chain)
    hashes: dict[int, str] = dict(session.execute(query).all())
    for checkpoint in checkpoints.newest_first():
        head = checkpoint.heads.get(chain)
        if head is not None and hashes.get(head.seq) == head.hash:
            return head.seq, checkpoint.at
    return 0, datetime.min


def _tampered(
    chain: str, head: Head, position: _Position, last: Checkpoint, intact: tuple[int, datetime]
) -> AnchorProblem:
    first = intact[0] + 1
    entries = f"entry {first}" if first == head.seq else f"entries {first} to {head.seq}"
    if position.last_seq < head.seq:
        now = f"the database ends at entry {position.last_seq}"
    else:
        now = f"the database holds another entry {head.seq}"
    since = f"; entry {intact[0]} still matches the checkpoint of {when(intact[1])}"
    return AnchorProblem(
        "tampered",
        f"chain {chain}",
        f"{entries} deleted or rewritten: the checkpoint of {when(last.at)} anchors entry "
        f"{head.seq}, {now}" + (since if intact[0] else ""),
    )


def _timestamp(
    checkpoint: Checkpoint, auditor: Auditor, problems: list[AnchorProblem]
) -> datetime | None:
    if checkpoint.timestamp is None:
        return None
    try:
        return check_timestamp(checkpoint.timestamp, checkpoint.payload, auditor.tsa_roots)
    except TimestampError as exc:
        problems.append(AnchorProblem("timestamp", f"checkpoint {checkpoint.key}", str(exc)))
        return None


def when(moment: datetime) -> str:
    """A checkpoint's time as the operator reads it."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
