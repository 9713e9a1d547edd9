"""Refusing bad uploads before they are stored: sizes, sniffed types, active content, names."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
import zlib

import pytest

from coffre.catalogue import DEFAULT_FORMATS, JPEG, PDF, PNG
from coffre.inspection.uploads import (
    SNIFF_BYTES,
    Inspection,
    UploadInspector,
    UploadRefused,
    sanitize_filename,
)
from tests.coffre.conftest import MINIMAL_PDF, pdf_of
from tests.coffre.pdfs import raw_pdf

LIMIT = 20 * 1024 * 1024
FRENCH = {
    "empty": "Le fichier est vide.",
    "too_large": "dépasse la taille maximale autorisée",
    "type_not_allowed": "Formats acceptés : ",
    "dangerous_content": "contenu potentiellement dangereux",
    "extension_mismatch": "L'extension du nom de fichier ne correspond pas",
    "pdf_javascript": "contenu actif",
    "pdf_encrypted": "protégé par un mot de passe",
    "pdf_unreadable": "endommagé ou incomplet",
    "pdf_too_complex": "trop complexe pour être vérifié",
    "image_bomb": "Les dimensions de cette image sont anormales",
}


def png(width: int = 1, height: int = 1, extra: bytes = b"") -> bytes:
    """A real 8-bit greyscale PNG, whose header may announce any size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + extra
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


def segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def jpeg(width: int = 1, height: int = 1, before_frame: bytes = b"") -> bytes:
    """A minimal baseline JFIF: APP0, optional segments, SOF0, an empty scan."""
    app0 = segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    sof0 = segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    sos = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + b"\x00"
    return b"\xff\xd8" + app0 + before_frame + sof0 + sos + b"\xff\xd9"


def a_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("avis.pdf", MINIMAL_PDF)
    return buffer.getvalue()


def inspect(
    content: bytes,
    filename: str = "justificatif",
    allowed: frozenset[str] = DEFAULT_FORMATS,
    max_bytes: int = LIMIT,
    chunk: int = 4096,
) -> Inspection:
    inspector = UploadInspector(allowed, filename, max_bytes)
    for start in range(0, len(content), chunk):
        inspector.feed(content[start : start + chunk])
    return inspector.finish()


def refused(content: bytes, code: str, **options: object) -> UploadRefused:
    """Inspect, expect a refusal with `code` and its French message; return it."""
    with pytest.raises(UploadRefused) as caught:
        inspect(content, **options)  # type: ignore[arg-type]
    assert caught.value.code == code
    assert FRENCH[code] in caught.value.message
    return caught.value


# Accepted documents


@pytest.mark.parametrize(
    ("content", "filename", "mime"),
    [
        (MINIMAL_PDF, "avis.pdf", PDF),
        (MINIMAL_PDF, "AVIS.PDF", PDF),
        (png(), "scan.png", PNG),
        (jpeg(), "photo.jpg", JPEG),
        (jpeg(), "photo.JPEG", JPEG),
        (jpeg(), "photo sans extension", JPEG),
    ],
)
def test_valid_documents_are_accepted_with_their_sniffed_type(
    content: bytes, filename: str, mime: str
) -> None:
    assert inspect(content, filename) == Inspection(mime, len(content), filename)


@pytest.mark.parametrize("chunk", [1, 7, 4096, SNIFF_BYTES + 1])
def test_verdict_does_not_depend_on_chunk_size(chunk: int) -> None:
    content = pdf_of(SNIFF_BYTES + 5000)

    assert inspect(content, "a.pdf", chunk=chunk).size == len(content)


def test_the_filename_in_the_verdict_is_sanitized() -> None:
    assert inspect(MINIMAL_PDF, "../../Bureau/avis\x00.pdf").filename == "avis.pdf"


def test_memory_stays_bounded_whatever_the_size_of_an_image() -> None:
    inspector = UploadInspector(DEFAULT_FORMATS, "scan.jpg", LIMIT)
    inspector.feed(jpeg()[:-2])
    scan = bytes(64 * 1024)  # entropy-coded data holds no marker
    tracemalloc.start()
    try:
        for _ in range(200):  # 12.5 MiB
            inspector.feed(scan)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    inspector.feed(b"\xff\xd9")

    assert inspector.finish().mime_type == JPEG
    assert peak < 1024 * 1024


def test_a_pdf_is_held_once_in_memory_for_its_parser() -> None:
    content = pdf_of(12 * 1024 * 1024)
    inspector = UploadInspector(DEFAULT_FORMATS, "gros.pdf", LIMIT)
    tracemalloc.start()
    try:
        for start in range(0, len(content), 64 * 1024):
            inspector.feed(content[start : start + 64 * 1024])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert inspector.finish().mime_type == PDF
    assert peak < 1.5 * len(content)  # and never more than the limit: see the size tests


# Size


def test_empty_file_is_refused() -> None:
    assert refused(b"", "empty").message == "Le fichier est vide."


def test_file_of_exactly_the_limit_is_accepted() -> None:
    content = pdf_of(100_000)

    assert inspect(content, max_bytes=len(content)).size == len(content)


def test_feed_refuses_as_soon_as_the_limit_is_exceeded() -> None:
    inspector = UploadInspector(DEFAULT_FORMATS, "a.pdf", 10 * 1024 * 1024)
    inspector.feed(b"%PDF-1.4\n" + b"x" * (10 * 1024 * 1024 - 9))

    with pytest.raises(UploadRefused) as caught:
        inspector.feed(b"x")

    assert caught.value.code == "too_large"
    assert caught.value.message == "Le fichier dépasse la taille maximale autorisée de 10 Mo."
    with pytest.raises(UploadRefused, match="too_large"):
        inspector.finish()


def test_a_fractional_limit_is_written_with_a_french_decimal_comma() -> None:
    assert "2,5 Mo" in refused(b"x" * 2_700_000, "too_large", max_bytes=2_621_440).message


# Types


@pytest.mark.parametrize(
    "content",
    [b"Bonjour, ceci est un texte.\n", a_zip(), b"PK\x03\x04" + MINIMAL_PDF, b"GIF89a\x01\x00"],
    ids=["text", "zip", "zip-header-then-pdf", "gif"],
)
def test_types_outside_the_accepted_formats_are_refused(content: bytes) -> None:
    message = refused(content, "type_not_allowed").message

    assert message == "Ce format de fichier n'est pas accepté. Formats acceptés : PDF, JPEG, PNG."


def test_the_refusal_lists_only_the_formats_of_the_document_type() -> None:
    message = refused(png(), "type_not_allowed", allowed=frozenset({PDF})).message

    assert message.endswith("Formats acceptés : PDF.")


def test_declared_name_does_not_make_a_text_file_a_pdf() -> None:
    refused(b"Ceci n'est pas un PDF.\n", "type_not_allowed", filename="avis.pdf")


EXECUTABLES_AND_MARKUP = {
    "html": b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "xml": b'<?xml version="1.0"?><avis/>',
    "elf": b"\x7fELF\x02\x01\x01\x00" + bytes(8) + struct.pack("<HHI", 2, 62, 1) + bytes(40),
    "pe": b"MZ\x90\x00" + bytes(60),
    "mach-o": b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + bytes(24),
    "shell": b"#!/bin/sh\nrm -rf ~\n",
    "javascript": b"#!/usr/bin/env node\nconsole.log(1)\n",
}


@pytest.mark.parametrize("content", EXECUTABLES_AND_MARKUP.values(), ids=EXECUTABLES_AND_MARKUP)
def test_markup_scripts_and_executables_are_dangerous(content: bytes) -> None:
    refused(content, "dangerous_content", filename="avis.pdf")


@pytest.mark.parametrize("content", EXECUTABLES_AND_MARKUP.values(), ids=EXECUTABLES_AND_MARKUP)
def test_dangerous_content_is_refused_even_if_its_type_is_allowed(content: bytes) -> None:
    everything = DEFAULT_FORMATS | {
        "text/html",
        "image/svg+xml",
        "text/xml",
        "application/x-executable",
        "application/x-dosexec",
        "application/x-mach-binary",
        "text/x-shellscript",
        "application/javascript",
    }

    refused(content, "dangerous_content", allowed=everything)


@pytest.mark.parametrize(
    "content",
    [
        b"%PDF-1.4\n<html><script>alert(1)</script></html>\n" + MINIMAL_PDF[9:],
        png(extra=struct.pack(">I", 30) + b"tEXt" + b"c\x00<SCRIPT>alert(1)</script>x" + bytes(4)),
        jpeg(before_frame=segment(0xFE, b"<svg onload=alert(1)>")),
    ],
    ids=["pdf+html", "png+script", "jpeg+svg"],
)
def test_documents_carrying_markup_at_their_start_are_dangerous_polyglots(content: bytes) -> None:
    refused(content, "dangerous_content")


@pytest.mark.parametrize(
    ("content", "filename"),
    [
        (MINIMAL_PDF + a_zip(), "avis.pdf"),
        (jpeg() + a_zip(), "photo.jpg"),
        (png() + a_zip(), "scan.png"),
    ],
    ids=["pdf+zip", "jpeg+zip", "png+zip"],
)
def test_documents_that_zip_readers_also_open_are_dangerous_polyglots(
    content: bytes, filename: str
) -> None:
    refused(content, "dangerous_content", filename=filename)


def test_an_archive_out_of_reach_of_zip_readers_is_not_a_polyglot() -> None:
    content = raw_pdf(stream=a_zip() + b"%" * 70_000)  # its end record far from the end

    assert inspect(content, "avis.pdf").mime_type == PDF


def test_zip_signature_bytes_inside_a_pdf_are_not_taken_for_an_archive() -> None:
    content = raw_pdf(stream=b"PK\x05\x06" + bytes(18))

    assert inspect(content, "avis.pdf").mime_type == PDF


# Extensions


@pytest.mark.parametrize(
    ("content", "filename"),
    [
        (png(), "scan.pdf"),
        (MINIMAL_PDF, "avis.exe"),
        (MINIMAL_PDF, "avis.jpg"),
        (jpeg(), "photo.png"),
        (jpeg(), "photo\u202egpj.exe"),
    ],
)
def test_extension_that_contradicts_the_content_is_refused(content: bytes, filename: str) -> None:
    refused(content, "extension_mismatch", filename=filename)


def test_refusal_messages_carry_no_personal_data() -> None:
    message = refused(MINIMAL_PDF, "extension_mismatch", filename="Dupont_Jean.exe").message

    assert "Dupont" not in message
    assert "(PDF)" in message


# Images


@pytest.mark.parametrize(
    "content",
    [png(100_000, 100_000), png(0, 10), png(10, 0), jpeg(60_000, 60_000), jpeg(0, 10)],
    ids=["png-huge", "png-no-width", "png-no-height", "jpeg-huge", "jpeg-no-width"],
)
def test_image_announcing_absurd_dimensions_is_refused_from_its_header(content: bytes) -> None:
    refused(content, "image_bomb")


def test_image_of_exactly_fifty_megapixels_is_accepted() -> None:
    assert inspect(png(10_000, 5_000)).mime_type == PNG


def test_jpeg_frame_after_large_metadata_is_still_measured() -> None:
    exif = segment(0xE1, b"Exif\x00\x00" + bytes(65_000))
    fill = b"\xff\xff"  # fill bytes before a marker are allowed

    assert inspect(jpeg(4000, 3000, exif * 3 + fill), chunk=1000).mime_type == JPEG
    refused(jpeg(40_000, 30_000, exif * 3 + fill), "image_bomb", chunk=1000)


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR",
        jpeg()[:20],
        jpeg().replace(segment(0xC0, struct.pack(">BHHB", 8, 1, 1, 1) + b"\x01\x11\x00"), b""),
    ],
    ids=["png-truncated", "jpeg-truncated", "jpeg-without-frame"],
)
def test_image_with_an_unreadable_header_is_refused(content: bytes) -> None:
    message = refused(content, "type_not_allowed").message

    assert message.startswith("Cette image est illisible ou incomplète.")


# File names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("avis.pdf", "avis.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\Jean\\Documents\\avis.pdf", "avis.pdf"),
        ("dir/..", "document"),
        ("avis\x00.pdf", "avis.pdf"),
        ("avis\r\n\x1b[31m.pdf", "avis[31m.pdf"),
        ("photo\u202egpj.exe", "photogpj.exe"),
        ("\u202egpj.exe", "gpj.exe"),
        ("a\u2066b\u2067c\u2068d\u2069e\u202a\u202b\u202c\u202d.pdf", "abcde.pdf"),
        (".htaccess", "htaccess"),
        ("...", "document"),
        ("", "document"),
        ("e\u0301te\u0301.pdf", "été.pdf"),
        ("Quittance loyer août.pdf", "Quittance loyer août.pdf"),
    ],
)
def test_filenames_are_sanitized(name: str, expected: str) -> None:
    assert sanitize_filename(name) == expected


def test_long_filename_is_capped_keeping_its_extension() -> None:
    sanitized = sanitize_filename("a" * 300 + ".pdf")

    assert len(sanitized) == 120
    assert sanitized.endswith("a.pdf")


def test_long_filename_without_extension_is_capped() -> None:
    assert sanitize_filename("b" * 300) == "b" * 120
