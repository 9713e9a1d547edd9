"""Streams for storage tests: large pseudo-random data made on the fly, and failing ones."""

from __future__ import annotations

import hashlib
import os

MIB = 1024 * 1024


class GeneratedStream:
    """`size` bytes of varied data produced block by block (never all in memory)."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self._block = os.urandom(MIB)
        self._counter = 0
        self._buffer = b""
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            size = self.remaining
        while len(self._buffer) < size and self.remaining > len(self._buffer):
            self._counter += 1
            self._buffer += self._counter.to_bytes(8, "big") + self._block[8:]
        data = self._buffer[: min(size, self.remaining)]
        self._buffer = self._buffer[len(data) :]
        self.remaining -= len(data)
        self.digest.update(data)
        return data


class FailingStream(GeneratedStream):
    """Gives `fail_after` bytes, then raises as a dropped client connection would."""

    def __init__(self, fail_after: int) -> None:
        super().__init__(fail_after * 10)
        self.fail_after = fail_after
        self.given = 0

    def read(self, size: int = -1) -> bytes:
        if self.given >= self.fail_after:
            raise ConnectionResetError("client went away")
        data = super().read(min(size if size >= 0 else MIB, self.fail_after - self.given))
        self.given += len(data)
        return data
