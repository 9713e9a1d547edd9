"""The journal's checkpoints as stored: every chain's head, signed, maybe timestamped.

Whoever can write to the database can delete journal entries and re-hash the rest of a chain
so that it verifies again. A checkpoint records each chain's last sequence number and hash,
signed with the journal key (which the database does not hold), optionally timestamped by an
RFC 3161 authority, and written once under `journal-checkpoints/` in the object store (the copy
that counts, backed up apart from the database). `coffre.journal.anchoring` writes them,
`coffre.journal.audit` checks the chains against them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from stockage import ObjectNotFound, ObjectStore

PREFIX = "journal-checkpoints/"
FORMAT_VERSION = 1
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


class CheckpointUnreadable(Exception):
    """A stored checkpoint is missing or is not a checkpoint document."""


@dataclass(frozen=True)
class Head:
    """Where a chain ended: its last sequence number and that entry's hash."""

    seq: int
    hash: str


@dataclass(frozen=True)
class Checkpoint:
    """A signed payload (canonical JSON of the heads) and, maybe, its RFC 3161 timestamp."""

    key: str
    payload: bytes
    signature: bytes
    timestamp: bytes | None = None

    @cached_property
    def content(self) -> dict[str, object]:
        try:
            content = json.loads(self.payload)
        except ValueError:
            raise CheckpointUnreadable(f"checkpoint {self.key}: the payload is not JSON") from None
        if not isinstance(content, dict) or content.get("version") != FORMAT_VERSION:
            raise CheckpointUnreadable(f"checkpoint {self.key}: unknown format")
        return content

    @property
    def at(self) -> datetime:
        return datetime.fromisoformat(str(self.content["at"]))

    @property
    def signer(self) -> str:
        return str(self.content["key"])

    @cached_property
    def heads(self) -> dict[str, Head]:
        raw = self.content["heads"]
        if not isinstance(raw, dict):
            raise CheckpointUnreadable(f"checkpoint {self.key}: no heads")
        return {chain: Head(int(head["seq"]), str(head["hash"])) for chain, head in raw.items()}

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.payload).hexdigest()

    def document(self) -> bytes:
        """The object written to the store: the payload as signed, its signature and token."""
        return json.dumps(
            {
                "payload": self.payload.decode("utf-8"),
                "signature": base64.b64encode(self.signature).decode("ascii"),
                "timestamp": _b64(self.timestamp),
            },
            sort_keys=True,
            indent=1,
        ).encode("utf-8")


def canonical(value: object) -> bytes:
    """The one byte form that is signed and timestamped."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")


def stored_keys(store: ObjectStore) -> list[str]:
    """The store's checkpoints, oldest first (their keys start with a fixed-width UTC time)."""
    return sorted(store.keys(PREFIX))


def read_checkpoint(store: ObjectStore, key: str) -> Checkpoint:
    """One checkpoint from the store, parsed but not yet checked."""
    try:
        with store.open(key) as stream:
            raw = stream.read(MAX_DOCUMENT_BYTES)
    except ObjectNotFound:
        raise CheckpointUnreadable(f"checkpoint {key} is not in the store") from None
    try:
        document = json.loads(raw)
        checkpoint = Checkpoint(
            key=key,
            payload=str(document["payload"]).encode("utf-8"),
            signature=base64.b64decode(document["signature"], validate=True),
            timestamp=base64.b64decode(document["timestamp"]) if document["timestamp"] else None,
        )
        # Parse now: a malformed document is reported as unreadable, never half-used.
        _ = (checkpoint.heads, checkpoint.at, checkpoint.signer)
    except (ValueError, TypeError, KeyError, AttributeError):
        raise CheckpointUnreadable(f"checkpoint {key} is not a checkpoint document") from None
    return checkpoint


def store_key(at: datetime, payload: bytes) -> str:
    digest = hashlib.sha256(payload).hexdigest()
    return f"{PREFIX}{at:%Y%m%dT%H%M%S%fZ}-{digest[:16]}.json"


def _b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode("ascii")
