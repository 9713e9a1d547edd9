from __future__ import annotations

import hashlib
import io
import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffre.crypto import (
    HEADER_BYTES,
    MIN_SEGMENT,
    TAG_BYTES,
    IntegrityError,
    IteratorStream,
    binding,
    decrypt,
    encrypt,
    header_key_id,
)

KEY = bytes(range(32))
SEGMENT = MIN_SEGMENT
AAD = binding(7, "doc-1")


def seal(plaintext: bytes, associated: bytes = AAD, key_id: int = 3) -> bytes:
    return b"".join(encrypt(KEY, key_id, associated, io.BytesIO(plaintext), SEGMENT))


def unseal(blob: bytes, associated: bytes = AAD) -> bytes:
    return b"".join(decrypt(lambda _key_id: KEY, associated, io.BytesIO(blob)))


def segments(blob: bytes) -> tuple[bytes, list[bytes]]:
    body = blob[HEADER_BYTES:]
    size = SEGMENT + TAG_BYTES
    return blob[:HEADER_BYTES], [body[i : i + size] for i in range(0, len(body), size)]


@pytest.mark.parametrize(
    "length", [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT, 3 * SEGMENT + 17]
)
def test_round_trip_at_every_segment_boundary(length: int) -> None:
    plaintext = os.urandom(length)

    blob = seal(plaintext)

    assert unseal(blob) == plaintext
    assert length < 16 or plaintext not in blob  # a short one may occur by chance


def test_header_names_the_key_used() -> None:
    assert header_key_id(io.BytesIO(seal(b"abc", key_id=42))) == 42


def test_blob_moved_to_another_document_is_refused() -> None:
    blob = seal(b"avis d'imposition")

    with pytest.raises(IntegrityError):
        unseal(blob, binding(8, "doc-1"))
    with pytest.raises(IntegrityError):
        unseal(blob, binding(7, "doc-2"))


def test_flipped_bit_anywhere_is_refused() -> None:
    blob = seal(os.urandom(2 * SEGMENT + 5))
    for position in (5, HEADER_BYTES - 1, HEADER_BYTES + 10, len(blob) - 1):
        altered = bytearray(blob)
        altered[position] ^= 0x01
        with pytest.raises(IntegrityError):
            unseal(bytes(altered))


def test_reordered_dropped_duplicated_or_truncated_segments_are_refused() -> None:
    header, parts = segments(seal(os.urandom(3 * SEGMENT + 5)))
    assert len(parts) == 4
    variants = {
        "reordered": [parts[1], parts[0], parts[2], parts[3]],
        "dropped middle": [parts[0], parts[2], parts[3]],
        "dropped last": parts[:3],
        "duplicated": [parts[0], parts[0], parts[1], parts[2], parts[3]],
    }
    for name, body in variants.items():
        with pytest.raises(IntegrityError):
            unseal(header + b"".join(body))
        assert name
    blob = header + b"".join(parts)
    for cut in (len(blob) - 1, HEADER_BYTES + SEGMENT + TAG_BYTES, HEADER_BYTES, 10):
        with pytest.raises(IntegrityError):
            unseal(blob[:cut])


def test_no_byte_of_an_altered_segment_reaches_the_reader() -> None:
    plaintext = os.urandom(2 * SEGMENT)
    header, parts = segments(seal(plaintext))
    altered = bytearray(parts[1])
    altered[0] ^= 0xFF
    received: list[bytes] = []

    with pytest.raises(IntegrityError):
        for chunk in decrypt(lambda _: KEY, AAD, io.BytesIO(header + parts[0] + bytes(altered))):
            received.append(chunk)

    assert received == [plaintext[:SEGMENT]]


def test_iterator_stream_reads_like_a_file() -> None:
    data = os.urandom(300_000)
    stream = IteratorStream(encrypt(KEY, 1, AAD, io.BytesIO(data), SEGMENT))

    blob = stream.read()

    assert hashlib.sha256(unseal(blob)).digest() == hashlib.sha256(data).digest()


# Properties over any plaintext and any alteration: never a wrong plaintext, always IntegrityError.
PLAINTEXTS = st.binary(min_size=0, max_size=4 * SEGMENT + 40)
PROPERTY = settings(max_examples=60, deadline=None)


@PROPERTY
@given(plaintext=PLAINTEXTS, data=st.data())
def test_any_truncation_is_refused(plaintext: bytes, data: st.DataObject) -> None:
    blob = seal(plaintext)
    cut = data.draw(st.integers(min_value=0, max_value=len(blob) - 1), label="cut")

    with pytest.raises(IntegrityError):
        unseal(blob[:cut])


@PROPERTY
@given(plaintext=PLAINTEXTS, data=st.data())
def test_any_bit_flip_is_refused(plaintext: bytes, data: st.DataObject) -> None:
    blob = bytearray(seal(plaintext))
    position = data.draw(st.integers(min_value=0, max_value=len(blob) - 1), label="position")
    bit = data.draw(st.integers(min_value=0, max_value=7), label="bit")
    blob[position] ^= 1 << bit

    with pytest.raises(IntegrityError):
        unseal(bytes(blob))


@PROPERTY
@given(
    count=st.integers(min_value=2, max_value=5),
    tail=st.integers(min_value=0, max_value=SEGMENT - 1),
    seed=st.integers(min_value=0),
    data=st.data(),
)
def test_any_reordering_of_segments_is_refused(
    count: int, tail: int, seed: int, data: st.DataObject
) -> None:
    plaintext = random.Random(seed).randbytes((count - 1) * SEGMENT + tail + 1)
    header, parts = segments(seal(plaintext))
    order = data.draw(st.permutations(range(len(parts))), label="order")
    if order == list(range(len(parts))):
        order = order[1:] + order[:1]  # a rotation: never the original order

    with pytest.raises(IntegrityError):
        unseal(header + b"".join(parts[i] for i in order))


@PROPERTY
@given(plaintext=PLAINTEXTS)
def test_any_plaintext_round_trips(plaintext: bytes) -> None:
    assert unseal(seal(plaintext)) == plaintext
