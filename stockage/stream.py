"""Streams in and out of a store: a hashing reader for uploads, a readable object for downloads."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CHUNK_SIZE = 1024 * 1024


class ReadableStream(Protocol):
    """What `put` reads from: anything with a blocking `read(size)`, such as a `BinaryIO`."""

    def read(self, size: int = -1, /) -> bytes: ...


class DigestingReader:
    """Reads from a source while counting the bytes and, unless told not to, hashing them.

    Remembers the exception the source raised, so that a store can let the caller's
    own error through instead of reporting it as a storage failure.
    """

    def __init__(self, source: ReadableStream, digest: bool = True) -> None:
        self._source = source
        self._sha256 = hashlib.sha256() if digest else None
        self.size = 0
        self.source_error: BaseException | None = None

    def read(self, size: int = -1, /) -> bytes:
        try:
            data = self._source.read(size)
        except BaseException as exc:
            self.source_error = exc
            raise
        if self._sha256 is not None:
            self._sha256.update(data)
        self.size += len(data)
        return data

    def hexdigest(self) -> str | None:
        """The SHA-256 hex digest of the bytes read so far; None if not hashing."""
        return None if self._sha256 is None else self._sha256.hexdigest()

    def raised(self, exc: BaseException) -> bool:
        """Whether exc is the error the source raised."""
        return exc is self.source_error


class ObjectStream(io.BufferedIOBase):
    """A stored object open for reading.

    `read(n)` returns n bytes unless the object ends first; iterating yields chunks of
    `CHUNK_SIZE` bytes (not lines), so a loop over it stays in bounded memory. Closing
    releases the file or connection underneath.
    """

    def __init__(self, fill: Callable[[memoryview], int], release: Callable[[], None]) -> None:
        super().__init__()
        self._fill = fill
        self._release = release

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view):
            count = self._fill(view[filled:])
            if count == 0:
                break
            filled += count
        return filled

    def read1(self, size: int | None = -1, /) -> bytes:
        return self.read(size)

    def read(self, size: int | None = -1, /) -> bytes:
        if self.closed:
            raise ValueError("read from a closed object stream")
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(CHUNK_SIZE), b""))
        buffer = bytearray(size)
        count = self.readinto(buffer)
        del buffer[count:]
        return bytes(buffer)

    def __next__(self) -> bytes:
        chunk = self.read(CHUNK_SIZE)
        if not chunk:
            raise StopIteration
        return chunk

    def close(self) -> None:
        if not self.closed:
            try:
                self._release()
            finally:
                super().close()
