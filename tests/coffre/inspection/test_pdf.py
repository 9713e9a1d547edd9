"""PDFs are parsed by qpdf before the vault takes them: active content, encryption, damage.

Hostile PDFs are saved by pikepdf with their objects in compressed object streams, where
a scan of the bytes sees nothing; each goes through the upload inspector as a family's
upload does.
"""

from __future__ import annotations

import io
import random
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime

import pikepdf
import pytest
from fpdf import FPDF
from pikepdf import Array, Dictionary, Name, String

from coffre.catalogue import PDF
from coffre.inspection.pdf import MAX_VALUES, PdfProblem, pdf_problem
from coffre.inspection.pdf_cost import (
    MAX_OBJECTS,
    MAX_XREF_ENTRIES,
    TooCostly,
    check_cost,
    count_values,
)
from demo.seed import demo_pdf
from procedures.operations.attestations import Certificate, render_pdf
from tests.coffre.conftest import pdf_of
from tests.coffre.inspection.test_uploads import inspect, refused
from tests.coffre.pdfs import (
    PAGES,
    Change,
    HandMade,
    action,
    annotation,
    built_pdf,
    catalog,
    chained_object_streams,
    chained_open_action,
    content_length_in_object_stream,
    deeply_nested,
    embedded_file,
    form_field,
    go_to,
    hand_made,
    javascript,
    javascript_names,
    lzw_literally,
    object_stream_claiming,
    object_stream_values,
    open_action,
    outline,
    page_actions,
    raw_pdf,
    tiny_objects,
    unparsable_objects,
    uri,
    values_in_catalog,
    xfa_form,
    xref_stream_length_in_object_stream,
)

SUBMIT = {"F": Dictionary(FS=Name.URL, F=String("https://collecte.example/"))}
ACTIVE = {
    "open-action-javascript": open_action(javascript()),
    "open-action-launch": open_action(action("Launch", F=String("C:\\Windows\\calc.exe"))),
    "open-action-uri": open_action(uri()),
    "open-action-submit-form": open_action(action("SubmitForm", **SUBMIT)),
    "link-submit-form": annotation("Link", A=action("SubmitForm", **SUBMIT)),
    "link-javascript": annotation("Link", A=javascript()),
    "link-launch": annotation("Link", A=action("Launch", F=String("calc.exe"))),
    "link-import-data": annotation("Link", A=action("ImportData", F=String("donnees.fdf"))),
    "link-remote-file": annotation(
        "Link", A=action("GoToR", F=String("\\\\serveur\\partage\\a.pdf"), D=Array([0, Name.Fit]))
    ),
    "link-embedded-file": annotation("Link", A=action("GoToE", D=Array([0, Name.Fit]))),
    "link-rendition": annotation("Link", A=action("Rendition", OP=0)),
    "link-mouse-enter-uri": annotation("Link", AA=Dictionary(E=uri())),
    "widget-javascript": form_field(A=javascript()),
    "field-keystroke-script": form_field(AA=Dictionary(K=javascript())),
    "field-validate-uri": form_field(AA=Dictionary(V=uri())),
    "xfa-form": xfa_form,
    "names-javascript": javascript_names,
    "embedded-file": embedded_file,
    "page-open-uri": page_actions(O=uri()),
    "page-close-javascript": page_actions(C=javascript()),
    "document-will-print": catalog(AA=Dictionary(WP=javascript())),
    "chain-goto-then-uri": chained_open_action(go_to(), go_to(), uri()),
    "chain-uri-link-then-javascript": annotation("Link", A=action("URI", Next=javascript())),
    "link-to-a-script-address": annotation("Link", A=uri("javascript:app.alert(1)")),
    "link-to-a-file": annotation("Link", A=uri("file:///C:/Windows/System32/calc.exe")),
    "link-to-a-network-share": annotation("Link", A=uri("\\\\serveur\\partage")),
    "link-without-a-scheme": annotation("Link", A=uri("avis.html")),
    "outline-javascript": outline(javascript()),
    "rich-media": annotation("RichMedia"),
    "screen": annotation("Screen"),
    "movie": annotation("Movie", Movie=Dictionary(F=String("film.avi"))),
    "sound": annotation("Sound"),
    "file-attachment": annotation("FileAttachment", FS=String("virement.exe")),
    "3d": annotation("3D"),
    "script-under-any-key": catalog(Bidule=javascript()),
}


@pytest.mark.parametrize("change", ACTIVE.values(), ids=ACTIVE)
def test_active_content_in_object_streams_is_refused(change: Change) -> None:
    content = built_pdf(change)
    assert b"/JavaScript" not in content and b"/URI" not in content  # hidden from a scan

    message = refused(content, "pdf_javascript", filename="avis.pdf").message

    assert "Imprimer en PDF" in message


@pytest.mark.parametrize("chunk", [1, 4096])
def test_active_content_is_found_whatever_the_chunks(chunk: int) -> None:
    refused(built_pdf(open_action(javascript())), "pdf_javascript", chunk=chunk)


@pytest.mark.parametrize(
    "name", [b"/J#61vaScript", b"/#4A#61#76#61#53#63#72#69#70#74", b"/Launc#68"]
)
def test_names_written_with_escapes_are_read_as_the_parser_reads_them(name: bytes) -> None:
    content = raw_pdf(b"/OpenAction << /S " + name + b" /JS (app.alert(1)) /F (calc) >>")

    refused(content, "pdf_javascript")


def test_names_that_are_not_utf8_are_read_without_failing() -> None:
    assert inspect(raw_pdf(b"/Producteur /Caf#E9")).mime_type == PDF
    refused(raw_pdf(b"/OpenAction << /S /Caf#E9 >>"), "pdf_javascript")  # no known action


def test_active_content_deep_in_a_large_file_is_found() -> None:
    content = raw_pdf(b"/OpenAction << /S /JavaScript /JS (x) >>", stream=b"%" * 5_000_000)

    refused(content, "pdf_javascript", chunk=65_000)


def opens_on_the_first_page(pdf: pikepdf.Pdf) -> None:
    pdf.Root.OpenAction = Array([pdf.pages[0].obj, Name.Fit])  # a destination, not an action


def refers_to_itself(pdf: pikepdf.Pdf) -> None:
    loop = pdf.make_indirect(Dictionary())
    loop.Moi = loop
    pdf.Root.Boucle = loop


CLEAN = {
    "blank-page": None,
    "hyperlink-a-reader-clicks": annotation("Link", A=uri()),
    "mail-link-a-reader-clicks": annotation("Link", A=uri(" MAILTO:ecole@ville.example")),
    "link-to-a-page": annotation("Link", A=go_to()),
    "opens-on-a-page": opens_on_the_first_page,
    "opens-with-a-go-to": open_action(go_to()),
    "bookmark-to-a-page": outline(go_to()),
    "form-without-actions": form_field(V=String("12 345")),
    "page-actions-that-only-go-to-a-page": page_actions(O=go_to()),
    "chain-of-page-changes-that-loops": chained_open_action(go_to(), go_to(), loop=True),
    "object-referring-to-itself": refers_to_itself,
}


@pytest.mark.parametrize("change", CLEAN.values(), ids=CLEAN)
def test_clean_pdfs_are_accepted(change: Change | None) -> None:
    content = built_pdf(change)

    assert inspect(content, "avis.pdf").mime_type == PDF


def test_names_that_only_resemble_active_content_are_accepted() -> None:
    content = raw_pdf(b"/JSON 1 /Launchpad 2 /Title (Encrypt JavaScript /JS /Launch)")

    assert inspect(content).mime_type == PDF


def test_the_certificates_the_town_issues_are_accepted() -> None:
    certificate = Certificate(
        town="Ville-sur-Test",
        title="Attestation fiscale",
        paragraphs=("Frais de garde 2025 : 1 234,00 €.", "Enfant : Lou Martin."),
        reference="DEM-2026-000123",
        issued_on=date(2026, 9, 1),
        issued_at=datetime(2026, 9, 1, 8, 0, tzinfo=UTC),
    )

    assert inspect(render_pdf(certificate), "attestation.pdf").mime_type == PDF


def test_the_demo_documents_and_an_fpdf2_document_with_links_are_accepted() -> None:
    document = FPDF()
    document.add_page()
    document.set_font("helvetica", size=12)
    document.cell(text="Payer en ligne", link="https://www.impots.gouv.fr/")
    document.add_link(page=1)

    assert inspect(demo_pdf("Avis d'imposition - Foyer Martin")).mime_type == PDF
    assert inspect(bytes(document.output())).mime_type == PDF


# Encryption


@pytest.mark.parametrize("user", ["motdepasse", ""], ids=["opening-password", "owner-only"])
def test_password_protected_pdf_is_refused_with_what_to_do(user: str) -> None:
    content = built_pdf(encryption=pikepdf.Encryption(owner="proprietaire", user=user))

    message = refused(content, "pdf_encrypted").message

    assert message == (
        "Ce PDF est protégé par un mot de passe. "
        "Enregistrez-le sans protection puis déposez-le à nouveau."
    )


# What does not parse, or only once repaired


def damaged(content: bytes) -> bytes:
    """The same PDF with one byte more in its first object: every offset after it is off."""
    return content.replace(b"/Type /Catalog", b"/Type  /Catalog", 1)


@pytest.mark.parametrize(
    "content",
    [
        b"%PDF-1.7 garbage",
        b"%PDF-1.7\n" + bytes(range(256)) * 40,
        built_pdf()[:-200],
        pdf_of(5000)[:2500],
        damaged(pdf_of(5000)),
        pdf_of(5000) + b"%" * 2000 + b"\n",  # its end is no longer where readers look for it
    ],
    ids=["header-then-garbage", "header-then-bytes", "truncated", "cut-in-half", "shifted", "tail"],
)
def test_a_pdf_that_does_not_parse_as_it_is_is_refused(content: bytes) -> None:
    message = refused(content, "pdf_unreadable", filename="avis.pdf").message

    assert "enregistrez-le de nouveau en PDF" in message


def test_a_pdf_beyond_the_walking_budget_is_refused_as_too_complex() -> None:
    content = raw_pdf(b"/Valeurs [" + b"0 " * (MAX_VALUES + 1) + b"]")

    refused(content, "pdf_too_complex", filename="avis.pdf")


# What qpdf would spend to open and walk a file: refused before qpdf parses it


def lzw_cross_references() -> bytes:
    return hand_made().with_xref_stream(b"/Filter /LZWDecode", encode=lzw_literally)


def index_by_reference() -> bytes:
    pdf = hand_made()
    pdf.raw(9, b"[0 11]")  # qpdf follows the reference to read the ranges
    return pdf.with_xref_stream(b"/Index 9 0 R")


COSTLY: dict[str, Callable[[], bytes]] = {
    "names-parsed-to-open": lambda: values_in_catalog(MAX_VALUES + 1),
    "dictionaries-parsed-to-open": lambda: values_in_catalog(MAX_VALUES // 2 + 1, b"<<>>"),
    "object-stream-parsed-for-its-catalogue": lambda: object_stream_values(MAX_VALUES + 1),
    "object-streams-chained-by-their-lengths": lambda: chained_object_streams(3),
    "xref-stream-length-in-an-object-stream": xref_stream_length_in_object_stream,
    "object-stream-claiming-objects": lambda: object_stream_claiming(MAX_OBJECTS + 1),
    "xref-stream-size": lambda: hand_made().with_xref_stream(b"/Size %d" % (MAX_OBJECTS + 1)),
    "xref-stream-entries": lambda: hand_made().with_xref_stream(padding=MAX_XREF_ENTRIES),
    "xref-stream-index-ranges": lambda: hand_made().with_xref_stream(
        b"/Index [0 5 10 %d]" % MAX_XREF_ENTRIES
    ),
    "xref-stream-index-by-reference": index_by_reference,
    "xref-stream-in-lzw": lzw_cross_references,
    "classic-table-entries": lambda: hand_made().with_table(padding=MAX_XREF_ENTRIES),
    "trailer-size": lambda: hand_made().with_table().replace(b"/Size 4 ", b"/Size 2000000000 "),
    "tiny-objects": lambda: tiny_objects(MAX_OBJECTS),
}


@pytest.mark.parametrize("make", COSTLY.values(), ids=COSTLY)
def test_a_pdf_that_would_cost_qpdf_too_much_is_refused_before_qpdf_parses_it(
    make: Callable[[], bytes],
) -> None:
    content = make()

    with pytest.raises(TooCostly):  # from the raw bytes and the cross-references alone
        check_cost(content)
    refused(content, "pdf_too_complex", filename="avis.pdf")


def test_values_nested_deeper_than_qpdf_allows_are_refused() -> None:
    refused(deeply_nested(10_000), "pdf_unreadable")  # qpdf's own limit (499 levels)


def lzw_page_with_a_table() -> bytes:
    pdf = HandMade()
    pdf.raw(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    pdf.raw(2, PAGES[2])
    pdf.raw(3, PAGES[3].replace(b"/Resources", b"/Contents 5 0 R /Resources"))
    pdf.stream(5, lzw_literally(b"0 0 m 10 10 l S"), b"/Filter /LZWDecode")
    return pdf.with_table()  # qpdf never decodes a page to check it: LZW costs nothing here


LOOKS_COSTLY: dict[str, Callable[[], bytes]] = {
    "linearized-with-object-streams": lambda: built_pdf(linearize=True),
    "catalogue-in-an-object-stream": lambda: hand_made(compressed=True).with_xref_stream(),
    "uncompressed-object-streams": lambda: built_pdf(compress_streams=False),
    "content-length-in-an-object-stream": content_length_in_object_stream,
    "lzw-page-with-a-classic-table": lzw_page_with_a_table,
    "objects-within-the-budget": lambda: tiny_objects(1000),
}


@pytest.mark.parametrize("make", LOOKS_COSTLY.values(), ids=LOOKS_COSTLY)
def test_pdfs_that_only_look_costly_are_accepted(make: Callable[[], bytes]) -> None:
    assert inspect(make(), "avis.pdf").mime_type == PDF


def parsed_values(value: object) -> int:
    if isinstance(value, pikepdf.Dictionary):
        return 1 + sum(parsed_values(item) for item in value.values())
    if isinstance(value, pikepdf.Array):
        return 1 + sum(parsed_values(item) for item in value)
    return 1


@pytest.mark.parametrize(
    "text",
    [
        b"[1 2 3]",
        b"[/a/b//c]",
        b"[<<>><< /k 1 >>]",
        b"[(a)(b)<00ff>()]",
        b"[true false null]",
        b"[+1 -2 .5 3. -.0]",
        b"[1%commentaire\n2]",
        b"[1\x002\t3\x0c4\r5]",
        b"[[[]][]]",
        b"<< /a [1 2] /b << /c (x) >> >>",
    ],
)
def test_the_byte_count_is_never_below_the_values_qpdf_parses(text: bytes) -> None:
    assert count_values(text) >= parsed_values(pikepdf.Object.parse(text))


def values_by_definition(text: bytes) -> int:
    """What `count_values` counts, byte by byte: each opening, each number start, each keyword."""
    digits, letters = b"0123456789+-.", bytes(range(65, 91)) + bytes(range(97, 123))
    total, previous = 0, ord(" ")
    for byte in text:
        total += byte in b"/[(<"
        total += byte in digits and previous not in digits and previous not in letters
        previous = byte
    return total + sum(text.count(keyword) for keyword in (b"true", b"false", b"null"))


@pytest.mark.parametrize("seed", range(2))
def test_the_byte_count_is_exactly_its_definition_across_chunks(seed: int) -> None:
    generator = random.Random(seed)
    alphabet = b" \n%0123456789+-./[(<aRtruefalsenull"
    text = bytearray(generator.choices(alphabet, k=2 * 1024 * 1024 + 9))
    for boundary in (1024 * 1024, 2 * 1024 * 1024):  # a keyword and a number across each
        text[boundary - 2 : boundary + 3] = b"false" if seed % 2 else b" -5.0"

    assert count_values(bytes(text)) == values_by_definition(bytes(text))


def python_peak(content: bytes) -> tuple[PdfProblem | None, int]:
    """The verdict on `content`, and the most Python memory the check held (qpdf's is not seen)."""
    tracemalloc.start()
    try:
        problem = pdf_problem(io.BytesIO(content))
        return problem, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_walk_holds_a_value_per_level_never_a_whole_array() -> None:
    problem, peak = python_peak(values_in_catalog(100_000, b"[]"))  # 200 KB

    assert problem is None
    assert peak < 2 * 1024 * 1024  # it held 6 MB of wrappers, one per empty array


def test_qpdf_warnings_stop_the_walk_before_they_pile_up() -> None:
    problem, peak = python_peak(unparsable_objects(40_000))  # 2.4 MB, 7 warnings each

    assert problem is PdfProblem.UNREADABLE
    assert peak < 12 * 1024 * 1024  # the 280,000 warnings came back as 50 MB of text
