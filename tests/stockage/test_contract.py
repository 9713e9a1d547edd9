"""The contract of `ObjectStore`: every test here runs against every backend.

The `store` fixture gives a FilesystemStore in a temporary folder and a MinioStore
on moto's S3 server; a backend keeps its promise when it passes this module unchanged.
"""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from collections.abc import Callable
from typing import TypeVar

import pytest

from stockage import InvalidKey, ObjectNotFound, ObjectStore, StoredObject
from stockage.s3 import PART_BYTES
from stockage.stream import CHUNK_SIZE
from tests.stockage.streams import MIB, FailingStream, GeneratedStream

T = TypeVar("T")

# Past the first S3 part, so that the S3 backend has a multipart upload under way.
PAST_FIRST_PART = PART_BYTES + MIB

ODD_KEYS = {
    "space": "justificatifs/avis d'imposition 2024.pdf",
    "accents": "foyers/Hélène Dupré/été.pdf",
    "percent": "taux/100%.txt",
    "plus": "a+b/c+d.txt",
    "hash": "notes/#1.txt",
    "question-mark": "faq/pourquoi?.txt",
    "ampersand-equals": "q/a=1&b=2",
    "unicode": "文書/ドキュメント/🙂.txt",
    "dot-file": "foyer/.env",
    "tilde-and-quotes": "~/« guillemets » 'simples' \"doubles\"",
    "longest-ascii": "x" * 255,
    "longest-accented": "é" * 127 + "x",
    "longest-with-slashes": "a/" * 127 + "b",
}

ILLEGAL_KEYS = {
    "parent": "../x",
    "parent-inside": "a/../b",
    "current": "a/./b",
    "absolute": "/abs",
    "nul": "a\x00b",
    "newline": "a\nb",
    "empty": "",
    "blank": "   ",
    "backslash": "a\\b",
    "empty-segment": "a//b",
    "trailing-slash": "a/",
    "256-bytes": "x" * 256,
    "256-bytes-accented": "é" * 128,
}

# A prefix may be empty, blank or end with "/" (it is the start of a key); the rest is illegal.
ILLEGAL_PREFIXES = {
    name: key
    for name, key in ILLEGAL_KEYS.items()
    if name not in {"empty", "blank", "trailing-slash"}
}

OPERATIONS: dict[str, Callable[[ObjectStore, str], object]] = {
    "put": lambda store, key: store.put(key, io.BytesIO(b"contenu")),
    "open": lambda store, key: store.open(key),
    "exists": lambda store, key: store.exists(key),
    "delete": lambda store, key: store.delete(key),
}


def _put_bytes(store: ObjectStore, key: str, data: bytes) -> StoredObject:
    return store.put(key, io.BytesIO(data))


def _read_all(store: ObjectStore, key: str) -> bytes:
    with store.open(key) as stream:
        return stream.read()


# Writing and reading back


def test_put_returns_the_key_size_and_sha256_of_the_bytes(store: ObjectStore) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 17)

    stored = _put_bytes(store, "foyer/42/acte.pdf", data)

    assert stored == StoredObject("foyer/42/acte.pdf", len(data), hashlib.sha256(data).hexdigest())


def test_put_without_a_digest_stores_the_same_bytes(store: ObjectStore) -> None:
    data = os.urandom(2 * CHUNK_SIZE + 7)

    stored = store.put("foyer/42/scelle", io.BytesIO(data), digest=False)

    assert stored == StoredObject("foyer/42/scelle", len(data), None)
    assert _read_all(store, "foyer/42/scelle") == data


def test_open_reads_back_the_very_bytes_put(store: ObjectStore) -> None:
    data = os.urandom(2 * CHUNK_SIZE + 7)
    _put_bytes(store, "acte.pdf", data)

    assert _read_all(store, "acte.pdf") == data


def test_empty_stream_is_stored_as_an_empty_object(store: ObjectStore) -> None:
    stored = _put_bytes(store, "vide", b"")

    assert stored == StoredObject("vide", 0, hashlib.sha256(b"").hexdigest())
    assert store.exists("vide")
    assert _read_all(store, "vide") == b""


def test_read_n_returns_n_bytes_until_the_object_ends(store: ObjectStore) -> None:
    data = os.urandom(2 * CHUNK_SIZE + 7)
    _put_bytes(store, "acte.pdf", data)

    with store.open("acte.pdf") as stream:
        assert stream.read(3) == data[:3]
        assert stream.read(0) == b""
        assert stream.read(CHUNK_SIZE + 5) == data[3 : CHUNK_SIZE + 8]
        assert stream.read() == data[CHUNK_SIZE + 8 :]
        assert stream.read(5) == b""
        assert stream.read() == b""


def test_iterating_yields_chunks_that_join_into_the_object(store: ObjectStore) -> None:
    data = os.urandom(2 * CHUNK_SIZE + 7)
    _put_bytes(store, "acte.pdf", data)

    with store.open("acte.pdf") as stream:
        chunks = list(stream)

    assert [len(chunk) for chunk in chunks] == [CHUNK_SIZE, CHUNK_SIZE, 7]
    assert b"".join(chunks) == data


def test_closed_object_stream_refuses_to_read_and_closes_twice_quietly(
    store: ObjectStore,
) -> None:
    _put_bytes(store, "acte.pdf", b"contenu")
    stream = store.open("acte.pdf")

    stream.close()
    stream.close()

    assert stream.closed
    with pytest.raises(ValueError, match="closed"):
        stream.read(1)


def test_leaving_the_with_block_closes_the_object_stream(store: ObjectStore) -> None:
    _put_bytes(store, "acte.pdf", b"contenu")

    with store.open("acte.pdf") as stream:
        assert stream.read(3) == b"con"

    assert stream.closed


# Missing objects and deletion


def test_open_of_a_missing_key_raises_object_not_found(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.open("absent.pdf")


def test_exists_is_false_for_a_missing_key(store: ObjectStore) -> None:
    assert not store.exists("absent.pdf")


def test_delete_of_a_missing_key_is_not_an_error(store: ObjectStore) -> None:
    store.delete("absent.pdf")

    assert not store.exists("absent.pdf")


def test_deleted_object_no_longer_exists_opens_or_lists(store: ObjectStore) -> None:
    _put_bytes(store, "foyer/acte.pdf", b"contenu")
    _put_bytes(store, "foyer/autre.pdf", b"autre")

    store.delete("foyer/acte.pdf")

    assert not store.exists("foyer/acte.pdf")
    with pytest.raises(ObjectNotFound):
        store.open("foyer/acte.pdf")
    assert list(store.keys()) == ["foyer/autre.pdf"]


def test_put_under_an_existing_key_replaces_the_object(store: ObjectStore) -> None:
    _put_bytes(store, "acte.pdf", b"version 1")

    stored = _put_bytes(store, "acte.pdf", b"version 2, plus longue")

    assert stored.size == len(b"version 2, plus longue")
    assert _read_all(store, "acte.pdf") == b"version 2, plus longue"
    assert list(store.keys()) == ["acte.pdf"]


# Keys


@pytest.mark.parametrize("key", ODD_KEYS.values(), ids=ODD_KEYS.keys())
def test_key_with_odd_characters_round_trips_and_lists(store: ObjectStore, key: str) -> None:
    data = key.encode("utf-8")

    assert _put_bytes(store, key, data).key == key

    assert store.exists(key)
    assert _read_all(store, key) == data
    assert list(store.keys()) == [key]
    assert list(store.keys(key)) == [key]
    store.delete(key)
    assert not store.exists(key)


def test_keys_lists_exactly_the_keys_starting_with_the_prefix(store: ObjectStore) -> None:
    stored = {
        *ODD_KEYS.values(),
        "foyer/1/acte.pdf",
        "foyer/12/acte.pdf",
        "foyer/2/acte.pdf",
        "foyer-archive/1.pdf",
        "foyer",
        "demandes/foyer/1.pdf",
    }
    for key in stored:
        _put_bytes(store, key, b"x")
    prefixes = ["", "foyer", "foyer/", "foyer/1", "foyer/1/", "f", "é", "a+", "taux/100%", "~/"]

    for prefix in prefixes:
        listed = list(store.keys(prefix))
        assert sorted(listed) == sorted(key for key in stored if key.startswith(prefix)), prefix


def test_keys_with_an_unmatched_prefix_lists_nothing(store: ObjectStore) -> None:
    _put_bytes(store, "foyer/1/acte.pdf", b"x")

    assert list(store.keys("foyer/2")) == []
    assert list(store.keys("Foyer")) == []


def test_keys_of_an_empty_store_lists_nothing(store: ObjectStore) -> None:
    assert list(store.keys()) == []


@pytest.mark.parametrize("operation", OPERATIONS.values(), ids=OPERATIONS.keys())
@pytest.mark.parametrize("key", ILLEGAL_KEYS.values(), ids=ILLEGAL_KEYS.keys())
def test_illegal_key_is_rejected_by_every_operation(
    store: ObjectStore, key: str, operation: Callable[[ObjectStore, str], object]
) -> None:
    with pytest.raises(InvalidKey):
        operation(store, key)

    assert list(store.keys()) == []


@pytest.mark.parametrize("prefix", ILLEGAL_PREFIXES.values(), ids=ILLEGAL_PREFIXES.keys())
def test_illegal_prefix_is_rejected_by_keys(store: ObjectStore, prefix: str) -> None:
    with pytest.raises(InvalidKey):
        list(store.keys(prefix))


# Failures and atomicity


class _RememberingFailure(FailingStream):
    """A FailingStream that keeps the exception it raised, to recognise it later."""

    error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            return super().read(size)
        except ConnectionResetError as exc:
            self.error = exc
            raise


class _ObservingStream(GeneratedStream):
    """Generated data that calls `observe` once, when `after` bytes have been given."""

    def __init__(self, size: int, after: int, observe: Callable[[], None]) -> None:
        super().__init__(size)
        self._given = 0
        self._after = after
        self._observe: Callable[[], None] | None = observe

    def read(self, size: int = -1) -> bytes:
        if self._observe is not None and self._given >= self._after:
            self._observe()
            self._observe = None
        data = super().read(size)
        self._given += len(data)
        return data


def test_interrupted_upload_raises_the_callers_own_error_and_stores_nothing(
    store: ObjectStore,
) -> None:
    stream = _RememberingFailure(fail_after=PAST_FIRST_PART)

    with pytest.raises(ConnectionResetError) as raised:
        store.put("foyer/acte.pdf", stream)

    assert raised.value is stream.error
    assert stream.given == PAST_FIRST_PART
    assert not store.exists("foyer/acte.pdf")
    assert list(store.keys()) == []


def test_interrupted_replacement_keeps_the_previous_object(store: ObjectStore) -> None:
    _put_bytes(store, "foyer/acte.pdf", b"version 1")

    with pytest.raises(ConnectionResetError):
        store.put("foyer/acte.pdf", FailingStream(fail_after=PAST_FIRST_PART))

    assert _read_all(store, "foyer/acte.pdf") == b"version 1"
    assert list(store.keys()) == ["foyer/acte.pdf"]


def test_replacing_put_keeps_the_old_object_readable_until_the_new_one_is_complete(
    store: ObjectStore,
) -> None:
    _put_bytes(store, "foyer/acte.pdf", b"version 1")
    seen_during_upload: list[tuple[bytes, list[str]]] = []

    def observe() -> None:
        seen = (_read_all(store, "foyer/acte.pdf"), list(store.keys()))
        seen_during_upload.append(seen)

    new = _ObservingStream(PAST_FIRST_PART + MIB, after=PAST_FIRST_PART - MIB, observe=observe)
    stored = store.put("foyer/acte.pdf", new)

    assert seen_during_upload == [(b"version 1", ["foyer/acte.pdf"])]
    assert stored.sha256 == new.digest.hexdigest()
    with store.open("foyer/acte.pdf") as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == new.digest.hexdigest()


# Large objects


def _with_peak_memory(action: Callable[[], T]) -> tuple[T, int]:
    """Run action; return its result and the peak of Python allocations it made."""
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        result = action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak - before


def _sha256_by_chunks(store: ObjectStore, key: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with store.open(key) as stream:
        for chunk in stream:
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


@pytest.mark.slow
def test_large_object_round_trips_in_bounded_memory(store: ObjectStore) -> None:
    size = 200 * MIB
    source = GeneratedStream(size)

    stored, put_peak = _with_peak_memory(lambda: store.put("grand/objet.bin", source))
    (read_size, read_sha256), read_peak = _with_peak_memory(
        lambda: _sha256_by_chunks(store, "grand/objet.bin")
    )
    store.delete("grand/objet.bin")

    assert stored == StoredObject("grand/objet.bin", size, source.digest.hexdigest())
    assert (read_size, read_sha256) == (size, source.digest.hexdigest())
    assert put_peak < 64 * MIB, f"put peaked at {put_peak / MIB:.1f} MiB"
    assert read_peak < 64 * MIB, f"read peaked at {read_peak / MIB:.1f} MiB"
