"""A deposit's one pass over its bytes: inspected, hashed and encrypted as they are read.

The sealed segments go to the object store through a short queue, written by a thread of
their own while the next segments are sealed: the disk writes while the processor hashes and
encrypts (`hashlib` and the AES-GCM of `cryptography` release the GIL, as file writes do), so
a deposit takes about the longer of the two instead of their sum. The store is asked for no
digest of its own: every segment is authenticated, and the plaintext's SHA-256 is recorded.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor

from coffre.crypto import IteratorStream
from coffre.inspection.uploads import UploadInspector
from stockage import ObjectStore, ReadableStream

log = logging.getLogger(__name__)
QUEUE_DEPTH = 2  # sealed segments waiting for the writer: 2 MiB at most


class InspectingReader:
    """Passes the upload through the inspector and a SHA-256 as the encryption reads it.

    Each read's bytes are hashed by a helper thread while the encryption works on them.
    Without an inspector (a file the vault made itself: a prepared export), only hashed.
    """

    def __init__(
        self, source: ReadableStream, inspector: UploadInspector | None, helpers: Executor
    ) -> None:
        self._source = source
        self._inspector = inspector
        self._helpers = helpers
        self._sha256 = hashlib.sha256()
        self._hashing: Future[None] | None = None

    def read(self, size: int = -1, /) -> bytes:
        data = self._source.read(size)
        if data:
            if self._inspector is not None:
                self._inspector.feed(data)
            self._hashed()  # the digest takes the reads in order
            self._hashing = self._helpers.submit(self._sha256.update, data)
        return data

    def hexdigest(self) -> str:
        """The SHA-256 of everything read, once its hashing is done."""
        self._hashed()
        return self._sha256.hexdigest()

    def _hashed(self) -> None:
        if self._hashing is not None:
            self._hashing.result()
            self._hashing = None


class SealingStopped(Exception):
    """The sealing loop failed: what the writer raises so the store keeps nothing."""


class _Handoff:
    """Sealed segments passed from the sealing loop to the writer, at most `depth` waiting."""

    def __init__(self, depth: int = QUEUE_DEPTH) -> None:
        self._segments: deque[bytes] = deque()
        self._depth = depth
        self._changed = threading.Condition()
        self._ended = False  # nothing more will be sent
        self._failed = False  # ... because the sealing loop failed
        self._gone = False  # the writer stopped reading

    def send(self, segment: bytes) -> bool:
        """Queue a segment, waiting while the queue is full; False if the writer is gone."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._segments) < self._depth or self._gone)
            if self._gone:
                return False
            self._segments.append(segment)
            self._changed.notify_all()
            return True

    def end(self, *, failed: bool = False) -> None:
        """Tell the writer the stream ends here (or that the sealing failed)."""
        with self._changed:
            self._ended, self._failed = True, failed
            self._changed.notify_all()

    def leave(self) -> None:
        """The writer is done reading (finished or failed): unblock the sealing loop."""
        with self._changed:
            self._gone = True
            self._segments.clear()
            self._changed.notify_all()

    def __iter__(self) -> Iterator[bytes]:
        """The segments as they come, for the writer; SealingStopped if the sealing failed."""
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._segments) or self._ended)
                if not self._segments:
                    if self._failed:
                        raise SealingStopped("the deposit failed before its end")
                    return
                segment = self._segments.popleft()
                self._changed.notify_all()
            yield segment


def seal_into(
    store: ObjectStore,
    key: str,
    upload: ReadableStream,
    inspector: UploadInspector | None,
    encryption: Callable[[ReadableStream], Iterable[bytes]],
) -> str:
    """Inspect, hash and encrypt the upload into the store under key; its SHA-256 hex digest.

    Whatever the upload or the inspector raises (a dropped connection, a refusal) is raised
    here once the store has dropped its partial object; a storage error likewise. The
    inspector's verdict on the whole upload is for the caller to ask (`finish`); None for a
    stream the vault made itself (a prepared export, `coffre.portability.prepared`).
    """
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="coffre-seal") as helpers:
        reader = InspectingReader(upload, inspector, helpers)
        _store(store, key, encryption(reader), helpers)
        return reader.hexdigest()


def _store(store: ObjectStore, key: str, sealed: Iterable[bytes], helpers: Executor) -> None:
    """Store the sealed segments as they come, written by a helper thread."""
    handoff = _Handoff()

    def write() -> None:
        try:
            store.put(key, IteratorStream(handoff), digest=False)
        finally:
            handoff.leave()

    written = helpers.submit(write)
    try:
        for segment in sealed:
            if not handoff.send(segment):
                break  # the writer failed: its error is raised below
    except BaseException:
        handoff.end(failed=True)
        failure = written.exception()  # once the store has dropped its partial object
        if failure is not None and not isinstance(failure, SealingStopped):
            log.warning("deposit: the store failed as well (%s)", type(failure).__name__)
        raise
    handoff.end()
    written.result()
