"""The append-only, hash-chained journal of every vault operation.

There is one chain per foyer ("foyer:<id>"), so that a foyer's export carries a journal that
can be checked on its own, and a "system" chain for operations on no foyer (key rotation).
Each entry holds the hash of the previous one; `journal_heads` keeps each chain's last
entry, updated by an UPDATE that takes the row lock first, so two writers never fork a
chain. Entries hold ids and event types only: never contents, names or file names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from coffre.clock import Clock
from coffre.models import JournalEntry, JournalHead

GENESIS = "0" * 64
SYSTEM_CHAIN = "system"
Detail = int | str | bool | None


@dataclass(frozen=True)
class JournalProblem:
    """The first broken place of one chain."""

    chain: str
    seq: int
    entry_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"entry {self.seq}" + (f" (id {self.entry_id})" if self.entry_id else "")
        return f"chain {self.chain}: {where}: {self.reason}"


def chain_of(foyer_id: int | None) -> str:
    """The chain an operation on this foyer (or on none) is written to."""
    return SYSTEM_CHAIN if foyer_id is None else f"foyer:{foyer_id}"


def record(
    session: Session,
    clock: Clock,
    event: str,
    *,
    foyer_id: int | None = None,
    actor_id: int | None = None,
    document_id: int | None = None,
    demande_id: int | None = None,
    details: Mapping[str, Detail] | None = None,
) -> JournalEntry:
    """Append one entry to the foyer's chain in the caller's transaction."""
    happened = Happened(event, actor_id, document_id, demande_id, details)
    [entry] = record_many(session, clock, foyer_id, [happened])
    return entry


@dataclass(frozen=True)
class Happened:
    """One operation to journal with others of the same foyer (`record_many`)."""

    event: str
    actor_id: int | None = None
    document_id: int | None = None
    demande_id: int | None = None
    details: Mapping[str, Detail] | None = None


def record_many(
    session: Session, clock: Clock, foyer_id: int | None, happenings: Sequence[Happened]
) -> list[JournalEntry]:
    """Append several entries to the foyer's chain at once, in order, in the caller's
    transaction: one head update reserves their sequence numbers (three statements, not
    three per entry)."""
    if not happenings:
        return []
    chain = chain_of(foyer_id)
    last_seq, prev_hash = _advance_head(session, chain, len(happenings))
    at = clock.now()
    entries = []
    for seq, happened in enumerate(happenings, start=last_seq - len(happenings) + 1):
        entry = JournalEntry(
            chain=chain,
            seq=seq,
            at=at,
            event=happened.event,
            actor_id=happened.actor_id,
            foyer_id=foyer_id,
            document_id=happened.document_id,
            demande_id=happened.demande_id,
            details=json.dumps(dict(happened.details or {}), sort_keys=True, separators=(",", ":")),
            prev_hash=prev_hash,
            hash="",
        )
        entry.hash = prev_hash = entry_hash(entry)
        entries.append(entry)
    session.add_all(entries)
    session.execute(update(JournalHead).where(JournalHead.chain == chain).values(hash=prev_hash))
    return entries


def _advance_head(session: Session, chain: str, count: int = 1) -> tuple[int, str]:
    """Reserve the chain's next `count` sequence numbers; the last one and the hash before
    them. The UPDATE locks the head row."""
    row = session.execute(
        update(JournalHead)
        .where(JournalHead.chain == chain)
        .values(seq=JournalHead.seq + count)
        .returning(JournalHead.seq, JournalHead.hash)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if row is not None:
        return int(row.seq), str(row.hash)
    session.add(JournalHead(chain=chain, seq=count, hash=GENESIS))
    session.flush()
    return count, GENESIS


def entry_fields(entry: JournalEntry) -> dict[str, object]:
    """Every field the hash covers, as exported; the hash is over this without "hash"."""
    return {
        "chain": entry.chain,
        "seq": entry.seq,
        "at": entry.at.isoformat(timespec="microseconds"),
        "event": entry.event,
        "actor": entry.actor_id,
        "foyer": entry.foyer_id,
        "document": entry.document_id,
        "demande": entry.demande_id,
        "details": entry.details,
        "prev": entry.prev_hash,
    }


def entry_hash(entry: JournalEntry) -> str:
    """SHA-256 of the canonical JSON of `entry_fields` (which include the previous hash)."""
    canonical = json.dumps(entry_fields(entry), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def entries(session: Session, chain: str) -> Iterator[JournalEntry]:
    """A chain's entries in order, fetched in batches."""
    query = select(JournalEntry).where(JournalEntry.chain == chain).order_by(JournalEntry.seq)
    # Closed even when the caller stops early: on PostgreSQL this is a server-side cursor.
    with session.scalars(query.execution_options(yield_per=1000)) as result:
        yield from result


def verify(session: Session, chains: list[str] | None = None) -> list[JournalProblem]:
    """Check every chain (or the named ones); return the first broken entry of each."""
    heads = {head.chain: head for head in session.scalars(select(JournalHead))}
    names = chains if chains is not None else sorted(heads | _entry_chains(session))
    problems = []
    for chain in names:
        problem = _verify_chain(session, chain, heads.get(chain))
        if problem is not None:
            problems.append(problem)
    return problems


def _entry_chains(session: Session) -> dict[str, None]:
    return dict.fromkeys(session.scalars(select(JournalEntry.chain).distinct()))


def _verify_chain(session: Session, chain: str, head: JournalHead | None) -> JournalProblem | None:
    expected_seq, prev_hash = 1, GENESIS
    for entry in entries(session, chain):
        if entry.seq != expected_seq:
            return JournalProblem(chain, expected_seq, None, "missing entry (deleted)")
        if entry.prev_hash != prev_hash:
            return JournalProblem(chain, entry.seq, entry.id, "does not follow the previous entry")
        if entry_hash(entry) != entry.hash:
            return JournalProblem(chain, entry.seq, entry.id, "modified")
        expected_seq, prev_hash = expected_seq + 1, entry.hash
    last_seq = expected_seq - 1
    if head is None:
        return JournalProblem(chain, last_seq, None, "chain has no head") if last_seq else None
    if head.seq != last_seq or head.hash != prev_hash:
        return JournalProblem(chain, last_seq + 1, None, "entries missing at the end (deleted)")
    return None
