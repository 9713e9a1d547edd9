"""Serving a document's plaintext: the headers a safe file needs, its previews, checked chunks."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator
from urllib.parse import quote

from coffre.catalogue import JPEG, PDF, PNG
from coffre.inspection.uploads import sanitize_filename
from coffre.vault import DocumentDamaged, OpenedDocument

log = logging.getLogger(__name__)
DISPOSITIONS = {"inline": "view", "attachment": "download"}  # -> the purpose the vault logs


# The document is shown in a sandbox (no script, no form, no same-origin access) and only
# framed by our own preview page; a download may not be framed at all. Browsers that know
# frame-ancestors ignore the global X-Frame-Options: DENY in favour of it.
FILE_POLICIES = {
    "inline": "sandbox; default-src 'none'; frame-ancestors 'self'",
    "attachment": "sandbox; default-src 'none'; frame-ancestors 'none'",
}


PREVIEWS = {PDF: "pdf", JPEG: "image", PNG: "image"}


def content_disposition(filename: str, disposition: str) -> str:
    """`inline` or `attachment` with an ASCII fallback name and the RFC 5987 UTF-8 one."""
    name = sanitize_filename(filename)
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = re.sub(r"[^A-Za-z0-9._ -]", "_", fallback).strip(" ._") or "document"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def attachment_headers(filename: str, disposition: str) -> dict[str, str]:
    """Headers of a file that must not be sniffed (no cache keeps it: web.security)."""
    return {
        "Content-Disposition": content_disposition(filename, disposition),
        "X-Content-Type-Options": "nosniff",
    }


def checked_chunks(opened: OpenedDocument) -> Iterator[bytes]:
    """Read the first segment now, so damage found there becomes an error page.

    Damage found later can only cut the transfer short (the headers are gone): the browser
    then reports a failed download rather than keeping a wrong file.
    """
    chunks = iter(opened.chunks)
    first = next(chunks, b"")
    return _rest(first, chunks, opened.document.id)


def _rest(first: bytes, chunks: Iterator[bytes], document_id: int) -> Iterator[bytes]:
    yield first
    try:
        yield from chunks
    except DocumentDamaged:
        log.error("document %s is damaged: transfer cut short", document_id)
        raise
