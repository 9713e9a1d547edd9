"""Request bodies: bounded by the document limit and never spooled to disk in clear.

Werkzeug writes a multipart file part larger than 500 KB to a temporary file before the
view sees it: a family's tax notice would sit unencrypted in /tmp for as long as the
request lasts, and longer after a crash. Here a file part is kept in memory instead, which
is bounded because the whole body is: a request larger than the largest document (plus
the room the form's other fields and the multipart framing take) is refused with 413
from its Content-Length, before any of it is read, and a body sent without one is cut at
the same size while it is read.
"""

from __future__ import annotations

import io
from typing import IO

from flask import Request

from coffre.vault import MIB

# The form fields beside the file (CSRF token, type, person, date) and the multipart
# boundaries and part headers: a few hundred bytes in practice.
FORM_ROOM_BYTES = 64 * 1024


def body_limit(max_document_mb: int) -> int:
    """The largest request body the portal reads: one document and its form."""
    return max_document_mb * MIB + FORM_ROOM_BYTES


class PortalRequest(Request):
    """Flask's request, keeping uploaded files in memory rather than in temporary files."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return io.BytesIO()
