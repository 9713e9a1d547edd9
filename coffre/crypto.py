"""Streaming authenticated encryption of documents: AES-256-GCM over fixed segments.

The construction follows Tink's "AES-GCM-HKDF streaming" design, framed here with the
`cryptography` package's AESGCM primitive:

    header  = MAGIC(4) | format version(1) | key id(4) | segment size(4) | salt(16) | prefix(7)
    segment = AES-GCM(object key, nonce = prefix(7) | counter(4) | last flag(1),
                      plaintext segment, associated data = header | binding)

The object key is derived with HKDF-SHA256 from the foyer's data key and the random salt, so
nonces never repeat across objects. The binding (foyer and document ids) is authenticated in
every segment: a blob moved to another record, a reordered, dropped, duplicated or truncated
segment, or a flipped bit fails a tag and raises IntegrityError before any byte of that
segment is returned.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable, Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from stockage import ReadableStream

MAGIC = b"CFRE"
FORMAT_VERSION = 1
TAG_BYTES = 16
SALT_BYTES = 16
PREFIX_BYTES = 7
MIN_SEGMENT = 64 * 1024
MAX_SEGMENT = 1024 * 1024
# A sealed segment (plaintext and tag) of exactly 1 MiB: a store reading 1 MiB at a time
# takes each one whole, without copying it.
DEFAULT_SEGMENT = MAX_SEGMENT - TAG_BYTES
_HEADER = struct.Struct(f">4sBII{SALT_BYTES}s{PREFIX_BYTES}s")
HEADER_BYTES = _HEADER.size
MAX_SEGMENTS = 2**32 - 1


class IntegrityError(Exception):
    """The ciphertext was altered, truncated, reordered or belongs to another record."""


def binding(foyer_id: int, document_id: str) -> bytes:
    """The associated data that ties a blob to its foyer and document."""
    return f"coffre/v1/foyer={foyer_id}/document={document_id}".encode()


def encrypt(
    key: bytes,
    key_id: int,
    associated: bytes,
    source: ReadableStream,
    segment_size: int = DEFAULT_SEGMENT,
) -> Iterator[bytes]:
    """Yield the header, then each encrypted segment of the source stream."""
    if not MIN_SEGMENT <= segment_size <= MAX_SEGMENT:
        raise ValueError(f"segment size must be between {MIN_SEGMENT} and {MAX_SEGMENT}")
    salt, prefix = os.urandom(SALT_BYTES), os.urandom(PREFIX_BYTES)
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, key_id, segment_size, salt, prefix)
    aead = AESGCM(_object_key(key, salt, associated))
    aad = header + associated
    yield header
    counter = 0
    current = _read_full(source, segment_size)
    while True:
        following = _read_full(source, segment_size) if len(current) == segment_size else b""
        last = not following
        yield aead.encrypt(_nonce(prefix, counter, last), current, aad)
        if last:
            return
        counter = _next_counter(counter)
        current = following


def decrypt(
    key_for: Callable[[int], bytes], associated: bytes, source: ReadableStream
) -> Iterator[bytes]:
    """Yield the plaintext of each segment once its tag is verified.

    key_for(key_id) returns the data key named in the header.
    """
    header = _read_full(source, HEADER_BYTES)
    key_id, segment_size, salt, prefix = _parse_header(header)
    aead = AESGCM(_object_key(key_for(key_id), salt, associated))
    aad = header + associated
    chunk = segment_size + TAG_BYTES
    counter = 0
    # Two buffers take turns: the segment being opened, and the one after it (which tells
    # whether this one is the last); each is read into again once its plaintext is out.
    spare: bytes | bytearray = bytearray(chunk)
    current = _read_segment(source, bytearray(chunk))
    while True:
        following = _read_segment(source, spare) if len(current) == chunk else b""
        last = not following
        yield _open_segment(aead, _nonce(prefix, counter, last), current, aad)
        if last:
            return
        counter = _next_counter(counter)
        current, spare = following, current


def header_key_id(source: ReadableStream) -> int:
    """The key id written in a blob's header (reads the header only)."""
    return _parse_header(_read_full(source, HEADER_BYTES))[0]


def _parse_header(header: bytes) -> tuple[int, int, bytes, bytes]:
    """key id, segment size, salt and nonce prefix of a well-formed header."""
    if len(header) != HEADER_BYTES:
        raise IntegrityError("the encrypted document is truncated (incomplete header)")
    magic, version, key_id, segment_size, salt, prefix = _HEADER.unpack(header)
    if magic != MAGIC or version != FORMAT_VERSION:
        raise IntegrityError("the encrypted document has an unknown format")
    if not MIN_SEGMENT <= segment_size <= MAX_SEGMENT:
        raise IntegrityError("the encrypted document has an invalid segment size")
    return key_id, segment_size, salt, prefix


def _open_segment(aead: AESGCM, nonce: bytes, segment: bytes | bytearray, aad: bytes) -> bytes:
    if len(segment) < TAG_BYTES:
        raise IntegrityError("the encrypted document is truncated")
    try:
        return aead.decrypt(nonce, segment, aad)
    except InvalidTag:
        raise IntegrityError(
            "the encrypted document failed its integrity check (altered, truncated, "
            "reordered or moved from another record)"
        ) from None


def _object_key(key: bytes, salt: bytes, associated: bytes) -> bytes:
    info = b"coffre-object|" + associated
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info)
    return hkdf.derive(key)


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


def _next_counter(counter: int) -> int:
    if counter + 1 >= MAX_SEGMENTS:
        raise ValueError("document too large for one encrypted stream")
    return counter + 1


def _read_full(source: ReadableStream, size: int) -> bytes:
    """Read exactly size bytes unless the stream ends first (streams may return short reads)."""
    parts: list[bytes] = []
    remaining = size
    while remaining:
        part = source.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _read_segment(source: ReadableStream, buffer: bytes | bytearray) -> bytes | bytearray:
    """Like `_read_full` of `len(buffer)` bytes, but into `buffer` when the source has
    `readinto` (and a bytearray is given): a segment short of it is the last one, and shrinks it.

    Saves the copy that `read` makes of every segment on its way to the cipher, and a new
    buffer for each.
    """
    size = len(buffer)
    readinto = getattr(source, "readinto", None)
    if readinto is None or not isinstance(buffer, bytearray):
        return _read_full(source, size)
    filled = 0
    with memoryview(buffer) as view:
        while filled < size:
            count = readinto(view[filled:])
            if not count:
                break
            filled += count
    del buffer[filled:]  # only once the view is released: a viewed bytearray cannot shrink
    return buffer


class IteratorStream(io.RawIOBase):
    """A readable binary stream over an iterator of byte chunks (bounded memory).

    `read(n)` returns at most n bytes of the current chunk (fewer at its end, as a raw stream
    may): the chunk itself, without a copy, when it fits whole.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._chunk = b""
        self._offset = 0  # how much of the current chunk was already given

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            return self.readall()
        if size == 0 or not self._advance():
            return b""
        start, end = self._offset, min(len(self._chunk), self._offset + size)
        self._offset = end
        if start == 0 and end == len(self._chunk):
            return self._chunk
        return self._chunk[start:end]

    def readall(self) -> bytes:
        return b"".join(iter(lambda: self.read(MAX_SEGMENT), b""))

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if not self._advance():
            return 0
        size = min(len(buffer), len(self._chunk) - self._offset)
        buffer[:size] = memoryview(self._chunk)[self._offset : self._offset + size]
        self._offset += size
        return size

    def _advance(self) -> bool:
        """Make the current chunk one with bytes left to give; False at the end."""
        while self._offset >= len(self._chunk):
            try:
                self._chunk = next(self._chunks)
            except StopIteration:
                self._chunk, self._offset = b"", 0
                return False
            self._offset = 0
        return True
