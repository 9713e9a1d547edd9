"""Writing the journal's checkpoints: sign every chain's head, timestamp it, store it once.

A new checkpoint is written only over a journal that still matches the last valid one in the
store, so that each checkpoint extends the one before: a chain cut and re-hashed between two
runs is refused (and stays visible to `flask coffre journal verify`) instead of being anchored
as if it were genuine. Checking against the newest checkpoint is then enough.
"""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass, field
from datetime import UTC

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coffre.clock import Clock
from coffre.journal.audit import AnchorProblem, Auditor, check_anchors
from coffre.journal.checkpoints import (
    FORMAT_VERSION,
    Checkpoint,
    CheckpointUnreadable,
    Head,
    canonical,
    store_key,
)
from coffre.journal.signing_key import key_id
from coffre.journal.timestamping import TimestampAuthority, TimestampError
from coffre.models import JournalCheckpoint, JournalEntry
from stockage import ObjectStore

log = logging.getLogger(__name__)


class JournalTampered(Exception):
    """The journal no longer matches its last checkpoint: no new checkpoint may cover it."""

    def __init__(self, problems: list[AnchorProblem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class Anchoring:
    """What writing a checkpoint needs: the store, the signing key and maybe a TSA."""

    store: ObjectStore
    signing_key: Ed25519PrivateKey = field(repr=False)
    tsa: TimestampAuthority | None = None


@dataclass(frozen=True)
class Written:
    """A checkpoint just written, and why it has no timestamp when a TSA was configured."""

    checkpoint: Checkpoint
    timestamp_error: str | None = None


def write_checkpoint(
    session: Session, clock: Clock, anchoring: Anchoring, *, skip_unchanged: bool = False
) -> Written | None:
    """Sign every chain's head now, write it to the store and the database; commits.

    Raises JournalTampered when a chain no longer matches the last checkpoint. With
    `skip_unchanged` (the worker's hourly run) nothing is written when no chain moved since
    the last checkpoint. A failing TSA does not stop the checkpoint: it is written without a
    timestamp and the reason returned (and logged).
    """
    heads = current_heads(session)
    if skip_unchanged and heads == _last_recorded_heads(session):
        return None
    public_key = anchoring.signing_key.public_key()
    auditor = Auditor(store=anchoring.store, public_key=public_key)
    tampered = check_anchors(session, auditor).tampered
    if tampered:
        raise JournalTampered(tampered)
    now = clock.now().astimezone(UTC)
    payload = canonical(
        {
            "version": FORMAT_VERSION,
            "at": now.isoformat(timespec="microseconds"),
            "key": key_id(public_key),
            "heads": {chain: {"seq": h.seq, "hash": h.hash} for chain, h in heads.items()},
        }
    )
    token, error = _timestamp(anchoring.tsa, payload)
    signature = anchoring.signing_key.sign(payload)
    checkpoint = Checkpoint(store_key(now, payload), payload, signature, token)
    _save(session, anchoring.store, checkpoint)
    return Written(checkpoint, error)


def current_heads(session: Session) -> dict[str, Head]:
    """Every chain's last entry as the database holds it now.

    Read from the entries themselves, not from `journal_heads`: a head row deleted or moved
    must not take its chain out of the checkpoint.
    """
    last = (
        select(JournalEntry.chain, func.max(JournalEntry.seq).label("seq"))
        .group_by(JournalEntry.chain)
        .subquery()
    )
    query = select(JournalEntry.chain, JournalEntry.seq, JournalEntry.hash).join(
        last, (JournalEntry.chain == last.c.chain) & (JournalEntry.seq == last.c.seq)
    )
    return {chain: Head(int(seq), entry_hash) for chain, seq, entry_hash in session.execute(query)}


def _save(session: Session, store: ObjectStore, checkpoint: Checkpoint) -> None:
    session.add(
        JournalCheckpoint(
            at=checkpoint.at,
            store_key=checkpoint.key,
            digest=checkpoint.digest,
            payload=checkpoint.payload.decode("utf-8"),
            signature=base64.b64encode(checkpoint.signature).decode("ascii"),
            timestamp_token=checkpoint.timestamp,
        )
    )
    session.flush()  # the row is valid before the store is written, committed after it
    if store.exists(checkpoint.key):
        raise CheckpointUnreadable(f"checkpoint {checkpoint.key} already exists (write-once)")
    store.put(checkpoint.key, io.BytesIO(checkpoint.document()))
    session.commit()


def _last_recorded_heads(session: Session) -> dict[str, Head]:
    last = session.scalars(
        select(JournalCheckpoint).order_by(JournalCheckpoint.at.desc(), JournalCheckpoint.id.desc())
    ).first()
    if last is None:
        return {}
    return Checkpoint(last.store_key, last.payload.encode("utf-8"), b"").heads


def _timestamp(tsa: TimestampAuthority | None, payload: bytes) -> tuple[bytes | None, str | None]:
    if tsa is None:
        return None, None
    try:
        return tsa.stamp(payload), None
    except TimestampError as exc:
        log.warning("journal checkpoint written without a timestamp: %s", exc)
        return None, str(exc)
