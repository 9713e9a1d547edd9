"""The interface every object store implements, and what `put` returns."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from stockage.stream import ObjectStream, ReadableStream


@dataclass(frozen=True)
class StoredObject:
    """An object as stored: its key, its size in bytes and the SHA-256 hex digest of its bytes.

    The digest is None when the caller of `put` asked for none.
    """

    key: str
    size: int
    sha256: str | None


class ObjectStore(Protocol):
    """Stores byte streams under keys; every implementation passes the same contract tests.

    Keys follow `stockage.keys.validate_key`; an illegal key raises `InvalidKey`.
    Failures of the storage raise a `StorageError`; errors raised by the caller's
    stream during `put` propagate unchanged.
    """

    def put(self, key: str, stream: ReadableStream, *, digest: bool = True) -> StoredObject:
        """Store the whole stream under key, replacing any object there atomically.

        Memory stays bounded whatever the size; if the stream fails, no partial object
        is ever visible and a previous object under the key is kept. `digest=False` spares
        the SHA-256 of the bytes, for a caller with its own check of them (the vault
        authenticates every segment and records the plaintext's digest).
        """
        ...

    def open(self, key: str) -> ObjectStream:
        """Open the object for reading; raise `ObjectNotFound` if there is none."""
        ...

    def delete(self, key: str) -> None:
        """Delete the object under key; deleting a missing object is not an error."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is stored under key."""
        ...

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key starting with prefix, in no particular order."""
        ...

    def describe(self) -> str:
        """A short description without secrets, for logs and health checks."""
        ...
