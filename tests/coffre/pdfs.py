"""PDFs made for the tests, by pikepdf (qpdf) or by hand: clean ones and hostile ones."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from itertools import pairwise

import pikepdf
from pikepdf import Array, Dictionary, Name, String

from demo.seed import assemble_pdf

Change = Callable[[pikepdf.Pdf], None]
Encoder = Callable[[bytes], bytes]


def built_pdf(change: Change | None = None, **save: object) -> bytes:
    """A one-page PDF changed by `change`, its objects in compressed object streams."""
    with pikepdf.new() as pdf:
        pdf.add_blank_page()
        if change is not None:
            change(pdf)
        out = io.BytesIO()
        pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate, **save)  # type: ignore[arg-type]
        return out.getvalue()


def raw_pdf(catalog: bytes = b"", stream: bytes | None = None) -> bytes:
    """A one-page PDF written by hand (with a right cross-reference table).

    `catalog` is added to the catalogue dictionary as written, name escapes and all;
    `stream` becomes the page's content stream, uncompressed, bytes as given.
    """
    contents = b" /Contents 4 0 R" if stream is not None else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]" + contents + b" >>",
    ]
    if stream is not None:
        length = str(len(stream)).encode()
        objects.append(b"<< /Length " + length + b" >>\nstream\n" + stream + b"\nendstream")
    return assemble_pdf(objects, version="1.7")


def action(kind: str, **entries: object) -> Dictionary:
    return Dictionary(Type=Name.Action, S=Name("/" + kind), **entries)


def javascript() -> Dictionary:
    return action("JavaScript", JS=String("app.alert('bonjour')"))


def uri(address: str = "https://collecte.example/") -> Dictionary:
    return action("URI", URI=String(address))


def go_to() -> Dictionary:
    return action("GoTo", D=String("debut"))


def open_action(value: Dictionary | Array) -> Change:
    def change(pdf: pikepdf.Pdf) -> None:
        pdf.Root.OpenAction = pdf.make_indirect(value) if isinstance(value, Dictionary) else value

    return change


def annotation(subtype: str, **entries: object) -> Change:
    """An annotation of `subtype` on the first page (a link, a widget, media...)."""

    def change(pdf: pikepdf.Pdf) -> None:
        annot = Dictionary(
            Type=Name.Annot, Subtype=Name("/" + subtype), Rect=[50, 50, 200, 80], **entries
        )
        pdf.pages[0].Annots = pdf.make_indirect(Array([pdf.make_indirect(annot)]))

    return change


def page_actions(**triggers: Dictionary) -> Change:
    def change(pdf: pikepdf.Pdf) -> None:
        pdf.pages[0].AA = Dictionary(**triggers)

    return change


def catalog(**entries: object) -> Change:
    def change(pdf: pikepdf.Pdf) -> None:
        for key, value in entries.items():
            pdf.Root[Name("/" + key)] = value

    return change


def form_field(**entries: object) -> Change:
    """A text field, its widget on the first page, in the document's form (AcroForm)."""

    def change(pdf: pikepdf.Pdf) -> None:
        field = pdf.make_indirect(
            Dictionary(
                Type=Name.Annot,
                Subtype=Name.Widget,
                FT=Name.Tx,
                T=String("revenu"),
                Rect=[50, 50, 200, 80],
                P=pdf.pages[0].obj,
                **entries,
            )
        )
        pdf.pages[0].Annots = Array([field])
        pdf.Root.AcroForm = Dictionary(Fields=Array([field]))

    return change


def xfa_form(pdf: pikepdf.Pdf) -> None:
    xdp = pikepdf.Stream(pdf, b'<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/"/>')
    pdf.Root.AcroForm = Dictionary(Fields=Array(), XFA=pdf.make_indirect(xdp))


def javascript_names(pdf: pikepdf.Pdf) -> None:
    tree = Dictionary(Names=Array([String("ouverture"), pdf.make_indirect(javascript())]))
    pdf.Root.Names = Dictionary(JavaScript=pdf.make_indirect(tree))


def embedded_file(pdf: pikepdf.Pdf) -> None:
    pdf.attachments["virement.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ\x90\x00")


def outline(item_action: Dictionary) -> Change:
    """A bookmark that runs `item_action` when clicked."""

    def change(pdf: pikepdf.Pdf) -> None:
        outlines = pdf.make_indirect(Dictionary(Type=Name.Outlines, Count=1))
        item = pdf.make_indirect(
            Dictionary(Title=String("Page 1"), Parent=outlines, A=pdf.make_indirect(item_action))
        )
        outlines.First = outlines.Last = item
        pdf.Root.Outlines = outlines

    return change


def chained_open_action(*steps: Dictionary, loop: bool = False) -> Change:
    """An /OpenAction whose steps follow one another through /Next (back to the first if loop)."""

    def change(pdf: pikepdf.Pdf) -> None:
        chain = [pdf.make_indirect(step) for step in steps]
        for before, after in pairwise(chain):
            before.Next = after
        if loop:
            chain[-1].Next = chain[0]
        pdf.Root.OpenAction = chain[0]

    return change


# Hostile structure, written by hand: what costs qpdf time and memory to open or resolve.

PAGES = {
    2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> >>",
}


class HandMade:
    """A PDF written object by object, its objects raw or in object streams of our making."""

    def __init__(self) -> None:
        self.out = bytearray(b"%PDF-1.7\n")
        self.entries: dict[int, tuple[int, int, int]] = {0: (0, 0, 0xFFFF)}

    def raw(self, number: int, body: bytes) -> None:
        self.entries[number] = (1, len(self.out), 0)
        self.out += b"%d 0 obj\n" % number + body + b"\nendobj\n"

    def stream(
        self, number: int, data: bytes, dictionary: bytes = b"", length: bytes = b""
    ) -> None:
        length = length or b"%d" % len(data)
        body = (
            b"<< " + dictionary + b" /Length " + length + b" >>\nstream\n" + data + b"\nendstream"
        )
        self.raw(number, body)

    def object_stream(
        self, number: int, members: dict[int, bytes], n: int = 0, length: bytes = b""
    ) -> int:
        """An object stream holding `members`; returns the length of its (Flate) data."""
        header, bodies = b"", b""
        for index, (member, body) in enumerate(members.items()):
            header += b"%d %d " % (member, len(bodies))
            bodies += body + b"\n"
            self.entries[member] = (2, number, index)
        data = zlib.compress(header + bodies, 9)
        counts = b"/N %d /First %d" % (n or len(members), len(header))
        self.stream(number, data, b"/Type /ObjStm /Filter /FlateDecode " + counts, length)
        return len(data)

    def with_table(self, trailer: bytes = b"", padding: int = 0) -> bytes:
        """Ends with a classic table, `padding` more entries pointing at the catalogue."""
        numbers = range(max(self.entries) + 1)
        rows = b"".join(b"%010d %05d %s \n" % self._row(number) for number in numbers)
        rows += b"%010d 00000 n \n" % self.entries[1][1] * padding
        size = len(numbers) + padding
        table = len(self.out)
        self.out += b"xref\n0 %d\n" % size + rows
        self.out += b"trailer\n<< /Size %d /Root 1 0 R %s >>\n" % (size, trailer)
        return bytes(self.out + b"startxref\n%d\n%%%%EOF\n" % table)

    def _row(self, number: int) -> tuple[int, int, bytes]:
        kind, offset, generation = self.entries.get(number, (0, 0, 0xFFFF))
        return offset, generation, b"n" if kind == 1 else b"f"

    def with_xref_stream(
        self, dictionary: bytes = b"", padding: int = 0, encode: Encoder | None = None
    ) -> bytes:
        """Ends with a cross-reference stream (Flate, or `encode`d), `padding` more entries."""
        number = max(self.entries) + 1
        self.entries[number] = (1, len(self.out), 0)
        rows = b"".join(
            struct.pack(">BIH", *self.entries.get(n, (0, 0, 0))) for n in range(number + 1)
        )
        rows += struct.pack(">BIH", 1, self.entries[1][1], 0) * padding
        if b"/Size" not in dictionary:
            dictionary += b" /Size %d" % (number + 1 + padding)
        data, filters = (encode(rows), b"") if encode else (zlib.compress(rows), b"/FlateDecode")
        if filters and b"/Filter" not in dictionary:
            dictionary += b" /Filter " + filters
        start = len(self.out)
        self.stream(number, data, b"/Type /XRef /W [1 4 2] /Root 1 0 R " + dictionary)
        return bytes(self.out + b"startxref\n%d\n%%%%EOF\n" % start)


def hand_made(catalog: bytes = b"", compressed: bool = False) -> HandMade:
    """A one-page PDF in the making; its catalogue in an object stream (4) if `compressed`."""
    pdf = HandMade()
    body = b"<< /Type /Catalog /Pages 2 0 R " + catalog + b" >>"
    if compressed:
        pdf.object_stream(4, {1: body})
    else:
        pdf.raw(1, body)
    for number, page in PAGES.items():
        pdf.raw(number, page)
    return pdf


def values_in_catalog(count: int, value: bytes = b"/") -> bytes:
    """`count` values (empty names by default) in one array of the catalogue: qpdf parses
    each while opening the file (about 140 bytes each)."""
    return hand_made(b"/Valeurs [" + value * count + b"]").with_table()


def object_stream_values(count: int) -> bytes:
    """An object stream holding the catalogue and an array of `count` empty arrays nobody
    refers to: qpdf parses the whole stream to open the file (8 KB made it take 850 MB)."""
    pdf = hand_made()
    pdf.object_stream(4, {1: b"<< /Type /Catalog /Pages 2 0 R >>", 5: b"[" + b"[]" * count + b"]"})
    return pdf.with_xref_stream()


def chained_object_streams(depth: int, filler: int = 0) -> bytes:
    """Object streams each of whose length sits in the next one, the first holding the
    catalogue: qpdf parses every one of them to open the file, recursively (its stack
    overflows past ~1,000)."""
    pdf = hand_made()
    streams = range(10, 11 + depth)
    lengths = range(11 + depth, 11 + 2 * depth)  # the length of streams[i] is lengths[i]
    length = 0
    for level, number in enumerate(streams):
        members = {12 + 2 * depth + level: b"[" + b"[]" * filler + b"]"}
        if level == 0:
            members[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
        else:  # the previous stream is written: its length is known
            members[lengths[level - 1]] = b"%d" % length
        own = b"%d 0 R" % lengths[level] if level < depth else b""
        length = pdf.object_stream(number, members, length=own)
    return pdf.with_xref_stream()


def xref_stream_length_in_object_stream(filler: int = 0) -> bytes:
    """An older cross-reference stream whose length sits in an object stream that the newer
    one lists: qpdf parses that object stream (and a `filler` of empty arrays) to open it."""
    pdf = hand_made()
    older = len(pdf.out)
    pdf.entries[5] = (1, older, 0)
    rows = b"".join(struct.pack(">BIH", *pdf.entries.get(n, (0, 0, 0))) for n in range(6))
    pdf.stream(5, rows, b"/Type /XRef /W [1 4 2] /Size 6 /Root 1 0 R", length=b"7 0 R")
    pdf.object_stream(6, {7: b"%d" % len(rows), 8: b"[" + b"[]" * filler + b"]"})
    return pdf.with_xref_stream(b"/Prev %d" % older)


def content_length_in_object_stream() -> bytes:
    """A page whose content stream's length sits in an object stream, as some writers do."""
    pdf = HandMade()
    pdf.object_stream(4, {1: b"<< /Type /Catalog /Pages 2 0 R >>", 6: b"%d" % len(b"0 0 m")})
    pdf.raw(2, PAGES[2])
    pdf.raw(3, PAGES[3].replace(b"/Resources", b"/Contents 5 0 R /Resources"))
    pdf.stream(5, b"0 0 m", length=b"6 0 R")
    return pdf.with_xref_stream()


def object_stream_claiming(n: int) -> bytes:
    """An object stream holding the catalogue whose /N claims `n` objects."""
    pdf = HandMade()
    pdf.object_stream(4, {1: b"<< /Type /Catalog /Pages 2 0 R >>"}, n=n)
    for number, page in PAGES.items():
        pdf.raw(number, page)
    return pdf.with_xref_stream()


def deeply_nested(depth: int) -> bytes:
    return hand_made(b"/Profond " + b"[" * depth + b"]" * depth).with_table()


def tiny_objects(count: int) -> bytes:
    """`count` one-value objects, each pointing to the next from the catalogue on."""
    pdf = hand_made(b"/Suite 10 0 R")
    for number in range(10, 10 + count):
        pdf.raw(number, b"[%d 0 R]" % (number + 1))
    return pdf.with_table()


def unparsable_objects(count: int) -> bytes:
    """`count` objects qpdf cannot parse, in an array of the catalogue: qpdf keeps a handful
    of warnings for each one (770 MB for 150,000 of them)."""
    pdf = hand_made(b"/Suite 9 0 R")
    pdf.raw(9, b"[" + b" ".join(b"%d 0 R" % n for n in range(10, 10 + count)) + b"]")
    for number in range(10, 10 + count):
        pdf.raw(number, b"<< /Inacheve")
    return pdf.with_table()


def lzw(codes: list[int]) -> bytes:
    """LZW codes packed as PDF's LZWDecode reads them (early change)."""
    bits, count, out = 0, 0, bytearray()
    width, table = 9, 258
    for position, code in enumerate(codes):
        bits, count = (bits << width) | code, count + width
        while count >= 8:
            count -= 8
            out.append((bits >> count) & 0xFF)
        bits &= (1 << count) - 1
        if code == 256:  # clear: the table starts again
            width, table = 9, 258
        elif codes[position - 1] != 256:  # every code but the first after a clear adds an entry
            table += 1
            width = max(width, (table + 1).bit_length())
    return bytes(out + (bytes([(bits << (8 - count)) & 0xFF]) if count else b""))


def lzw_literally(data: bytes) -> bytes:
    """`data` in LZW, one code per byte (short data: the table never fills)."""
    return lzw([256, *data, 257])


def lzw_zeros(cycles: int) -> bytes:
    """LZW that decodes to about 7 MB of zeros per cycle, from 5 KB."""
    codes: list[int] = []
    for _ in range(cycles):
        codes += [256, 0, *range(258, 4000)]  # ever longer runs of zeros
    return lzw([*codes, 257])
