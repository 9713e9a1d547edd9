"""Refuse bad uploads before the vault stores them: size, sniffed type, active content.

Neither the declared MIME type nor the extension is trusted: the type is sniffed with
libmagic from the first bytes, executables and markup are refused outright, PDFs are
parsed whole by qpdf (`coffre.inspection.pdf`) for active content, encryption or damage, and image
dimensions are read from the header only. The upload is fed chunk by chunk; an image or
a refused type holds only the sniffing head, a PDF is held in memory up to the size limit.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass

import magic

from coffre.catalogue import JPEG, PDF, PNG
from coffre.inspection.pdf import PdfProblem, pdf_problem

SNIFF_BYTES = 64 * 1024
POLYGLOT_WINDOW = 1024
# A ZIP reader looks for its end record in the last 64 KiB + 22 bytes: keep that much.
ZIP_TAIL_BYTES = 22 + 0xFFFF
_ZIP_END = b"PK\x05\x06"
_ZIP_DIRECTORY = b"PK\x01\x02"
MAX_PIXELS = 50_000_000
MAX_FILENAME = 120
MIB = 1024 * 1024

_LABELS = {PDF: "PDF", JPEG: "JPEG", PNG: "PNG"}
_EXTENSIONS = {
    PDF: frozenset({".pdf"}),
    JPEG: frozenset({".jpg", ".jpeg"}),
    PNG: frozenset({".png"}),
}
_DANGEROUS_TYPE = re.compile(  # markup, scripts and executables, matched whole
    r"text/html|text/xml|application/xml|.*\+xml"
    r"|.*(?:javascript|ecmascript|shellscript|executable|sharedlib|dosexec|msdownload)"
    r"|.*(?:mach-binary|java-applet)|text/x-(?:script\..*|perl|python|php|ruby|lua|tcl)"
)
_EXECUTABLE_SIGNATURES = (
    b"\x7fELF",  # ELF
    b"MZ",  # PE / DOS
    b"\xfe\xed\xfa\xce",  # Mach-O 32/64, both byte orders, and fat binaries
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"#!",  # any script with an interpreter line
)
_MARKUP_IN_HEAD = (b"<script", b"<html", b"<svg", b"<!doctype html", b"<iframe")
_BIDI_CONTROLS = frozenset(
    chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)
)


class UploadRefused(Exception):
    """An upload the vault refuses.

    `code` is stable for programs ("empty", "too_large", "type_not_allowed",
    "dangerous_content", "extension_mismatch", "pdf_javascript" (any active content),
    "pdf_encrypted", "pdf_unreadable", "pdf_too_complex", "image_bomb", "bad_name", and
    "quota" from the vault); `message` is a French sentence a parent understands, without
    personal data.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Inspection:
    """The verdict on an accepted upload."""

    mime_type: str
    size: int
    filename: str  # sanitized


def sanitize_filename(name: str) -> str:
    """A display name safe to store and show: no directories, controls or bidi tricks."""
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(
        c for c in name if c not in _BIDI_CONTROLS and unicodedata.category(c) not in {"Cc", "Cs"}
    )
    name = name.lstrip(". ").rstrip(". ")
    if len(name) > MAX_FILENAME:
        stem, dot, extension = name.rpartition(".")
        if dot and len(extension) < MAX_FILENAME // 4:
            keep = MAX_FILENAME - len(extension) - 1
            name = f"{stem[:keep].rstrip('. ')}.{extension}"
        else:
            name = name[:MAX_FILENAME].rstrip(". ")
    return name or "document"


class UploadInspector:
    """Feed the upload chunk by chunk (bounded memory), then `finish()` to get the verdict."""

    def __init__(self, allowed: frozenset[str], filename: str, max_bytes: int) -> None:
        self._allowed = allowed
        self._filename = sanitize_filename(filename)
        self._max_bytes = max_bytes
        self._size = 0
        self._head = bytearray()
        self._mime: str | None = None
        self._pdf: io.BytesIO | None = None  # the whole PDF, for qpdf
        self._jpeg: _JpegFrameReader | None = None
        self._tail = bytearray()

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk; refuses as soon as the size limit is exceeded."""
        self._size += len(chunk)
        if self._size > self._max_bytes:
            raise _too_large(self._max_bytes)
        self._tail += chunk[-ZIP_TAIL_BYTES:]
        del self._tail[:-ZIP_TAIL_BYTES]
        if self._mime is None:
            room = SNIFF_BYTES - len(self._head)
            self._head += chunk[:room]
            chunk = chunk[room:]
            if len(self._head) < SNIFF_BYTES:
                return
            self._sniff()
        self._scan(chunk)

    def finish(self) -> Inspection:
        """The verdict once the whole upload was fed; raises UploadRefused for any problem."""
        if self._size > self._max_bytes:
            raise _too_large(self._max_bytes)
        if self._size == 0:
            raise UploadRefused("empty", "Le fichier est vide.")
        if self._mime is None:
            self._sniff()
        mime = self._mime or "application/octet-stream"
        self._check_type(mime)
        self._check_extension(mime)
        if self._pdf is not None:
            _check_pdf(self._pdf)
        if mime == PNG:
            _check_dimensions(_png_dimensions(self._head), self._allowed)
        if self._jpeg is not None:
            _check_dimensions(self._jpeg.dimensions, self._allowed)
        return Inspection(mime, self._size, self._filename)

    def _sniff(self) -> None:
        self._mime = str(magic.from_buffer(bytes(self._head), mime=True))
        if self._mime == PDF:
            self._pdf = io.BytesIO()
        elif self._mime == JPEG:
            self._jpeg = _JpegFrameReader()
        self._scan(bytes(self._head))

    def _scan(self, chunk: bytes) -> None:
        if self._pdf is not None:
            self._pdf.write(chunk)
        if self._jpeg is not None:
            self._jpeg.feed(chunk)

    def _check_type(self, mime: str) -> None:
        dangerous = _DANGEROUS_TYPE.fullmatch(mime) is not None or self._head.startswith(
            _EXECUTABLE_SIGNATURES
        )
        if mime in _LABELS:  # a document type that also carries markup is a polyglot
            dangerous = dangerous or any(
                tag in self._head[:POLYGLOT_WINDOW].lower() for tag in _MARKUP_IN_HEAD
            )
        if mime in _LABELS:  # a document that a ZIP reader would also open is a polyglot
            dangerous = dangerous or _ends_as_a_zip(self._tail, self._size)
        if dangerous:
            raise UploadRefused(
                "dangerous_content",
                "Ce fichier contient du contenu potentiellement dangereux "
                "et ne peut pas être accepté.",
            )
        if mime not in self._allowed:
            raise _not_allowed("Ce format de fichier n'est pas accepté.", self._allowed)

    def _check_extension(self, mime: str) -> None:
        _, dot, extension = self._filename.rpartition(".")
        expected = _EXTENSIONS.get(mime)
        if dot and expected is not None and f".{extension.lower()}" not in expected:
            raise UploadRefused(
                "extension_mismatch",
                f"L'extension du nom de fichier ne correspond pas à son contenu "
                f"({_LABELS[mime]}). Renommez le fichier ou déposez le bon document.",
            )


def _ends_as_a_zip(tail: bytes | bytearray, size: int) -> bool:
    """Whether the file ends with the end record of a ZIP archive holding something.

    That record is what ZIP readers look for, so a PDF or an image carrying one is also an
    archive (a polyglot). The record must point back at a central directory ("PK\\1\\2")
    right before it, so 4 chance bytes in a compressed stream are not taken for one.
    """
    start = len(tail)
    while (start := tail.rfind(_ZIP_END, 0, start)) >= 0:
        record = tail[start : start + 22]
        directory_size = int.from_bytes(record[12:16], "little")
        comment = int.from_bytes(record[20:22], "little")
        position = size - len(tail) + start
        if len(record) < 22 or directory_size == 0 or position + 22 + comment > size:
            continue
        directory = start - directory_size
        if directory < 0:  # a directory longer than the tail: thousands of entries
            return directory_size <= position
        if tail[directory : directory + 4] == _ZIP_DIRECTORY:
            return True
    return False


def _too_large(max_bytes: int) -> UploadRefused:
    size = max_bytes / MIB
    shown = f"{size:.0f}" if size == round(size) else f"{size:.1f}".replace(".", ",")
    return UploadRefused(
        "too_large", f"Le fichier dépasse la taille maximale autorisée de {shown} Mo."
    )


def _not_allowed(reason: str, allowed: frozenset[str]) -> UploadRefused:
    known = [label for mime, label in _LABELS.items() if mime in allowed]
    others = sorted(mime.rpartition("/")[2].upper() for mime in allowed - _LABELS.keys())
    return UploadRefused(
        "type_not_allowed", f"{reason} Formats acceptés : {', '.join(known + others)}."
    )


def _check_dimensions(dimensions: tuple[int, int] | None, allowed: frozenset[str]) -> None:
    """Refuse an unreadable image header, or one announcing a decompression bomb."""
    if dimensions is None:
        raise _not_allowed("Cette image est illisible ou incomplète.", allowed)
    width, height = dimensions
    if width == 0 or height == 0 or width * height > MAX_PIXELS:
        raise UploadRefused(
            "image_bomb",
            "Les dimensions de cette image sont anormales. "
            "Merci de déposer une photo ou un scan de taille habituelle.",
        )


def _png_dimensions(head: bytes | bytearray) -> tuple[int, int] | None:
    """Width and height from the IHDR chunk, which must come first."""
    if len(head) < 24 or head[8:16] != b"\x00\x00\x00\x0dIHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


_SOF_MARKERS = frozenset(
    {*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), 0xCD, 0xCE, 0xCF}
)
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})


class _JpegFrameReader:
    """Walks JPEG segments as bytes arrive until the frame header (SOFn) gives the size.

    Segment bodies are skipped without being kept; at most one 9-byte header is held.
    """

    def __init__(self) -> None:
        self._header = bytearray()
        self._skip = 0
        self._started = False
        self._broken = False
        self.dimensions: tuple[int, int] | None = None

    def feed(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view and not self._broken and self.dimensions is None:
            if self._skip:
                step = min(self._skip, len(view))
                self._skip -= step
                view = view[step:]
                continue
            self._header.append(view[0])
            view = view[1:]
            self._step()

    def _step(self) -> None:
        header = self._header
        if not self._started:
            if len(header) == 2:
                self._started, self._broken = header == b"\xff\xd8", header != b"\xff\xd8"
                header.clear()
            return
        if header[0] != 0xFF:
            self._broken = True
        elif len(header) < 2:
            return
        elif header[1] == 0xFF:  # fill byte before a marker
            del header[0]
        elif header[1] in _STANDALONE_MARKERS:
            header.clear()
        elif header[1] in {0xD8, 0xD9, 0xDA}:  # a scan or an end before any frame header
            self._broken = True
        elif len(header) < 4:
            return
        elif int.from_bytes(header[2:4], "big") < 2:
            self._broken = True
        elif header[1] not in _SOF_MARKERS:
            self._skip = int.from_bytes(header[2:4], "big") - 2
            header.clear()
        elif len(header) == 9:
            height, width = int.from_bytes(header[5:7], "big"), int.from_bytes(header[7:9], "big")
            self.dimensions = (width, height)


_PDF_REFUSALS = {
    PdfProblem.UNREADABLE: "Ce PDF est endommagé ou incomplet et ne peut pas être lu. Ouvrez-le "
    "puis enregistrez-le de nouveau en PDF, par exemple avec « Imprimer en PDF », et déposez-le "
    "à nouveau.",
    PdfProblem.ENCRYPTED: "Ce PDF est protégé par un mot de passe. "
    "Enregistrez-le sans protection puis déposez-le à nouveau.",
    PdfProblem.ACTIVE_CONTENT: "Ce PDF contient du contenu actif (script, lancement de "
    "programme, envoi de formulaire, fichier joint ou multimédia) et ne peut pas être accepté. "
    "Enregistrez-le de nouveau en PDF simple, par exemple avec « Imprimer en PDF ».",
    PdfProblem.TOO_COMPLEX: "Ce PDF est trop complexe pour être vérifié. Enregistrez-le de "
    "nouveau en PDF simple, par exemple avec « Imprimer en PDF », puis déposez-le à nouveau.",
}


def _check_pdf(content: io.BytesIO) -> None:
    content.seek(0)
    problem = pdf_problem(content)
    if problem is not None:
        raise UploadRefused(problem.value, _PDF_REFUSALS[problem])
