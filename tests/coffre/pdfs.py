"""PDFs made for the tests, by pikepdf (qpdf) or by hand: clean ones and hostile ones."""

from __future__ import annotations

import io
from collections.abc import Callable
from itertools import pairwise

import pikepdf
from pikepdf import Array, Dictionary, Name, String

Change = Callable[[pikepdf.Pdf], None]


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
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    return bytes(out + f"startxref\n{xref}\n%%EOF\n".encode())


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
