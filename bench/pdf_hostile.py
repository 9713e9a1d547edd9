"""What checking a hostile PDF costs: peak memory and time of `coffre.inspection.pdf.pdf_problem`.

Each case is made by a generator of `tests/coffre/pdfs.py`, at most at the size of an upload
(20 MiB), and checked in a process of its own: the process builds the file, resets its peak
RSS (`/proc/self/clear_refs`), checks the file as an upload is checked, and reports the
verdict, the seconds and how far its peak RSS rose above what it held before the check. A
process that dies (qpdf overflowing its stack) or outlives --timeout is reported so. The
clean cases show what real documents cost. It is a benchmark, not a test.

    .venv/bin/python bench/pdf_hostile.py [--only names,lzw,...] [--timeout 300]

To measure other code (the code before a change), put its directory first:
`PYTHONPATH=/path/to/checkout .venv/bin/python bench/pdf_hostile.py` (the generators still
come from this checkout's tests/).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))  # tests/, after PYTHONPATH

from tests.coffre.pdfs import (
    built_pdf,
    chained_object_streams,
    deeply_nested,
    hand_made,
    lzw_zeros,
    object_stream_claiming,
    object_stream_values,
    tiny_objects,
    unparsable_objects,
    values_in_catalog,
    xref_stream_length_in_object_stream,
)

MIB = 1024 * 1024
Case = tuple[str, Callable[[], bytes]]


def fpdf_report() -> bytes:
    from fpdf import FPDF

    document = FPDF()
    document.set_font("helvetica", size=8)
    for page in range(300):
        document.add_page()
        for line in range(80):
            document.cell(
                0,
                3,
                f"Ligne {line} de la page {page} : 1 234,56 EUR",
                new_x="LMARGIN",
                new_y="NEXT",
            )
        document.link(10, 10, 50, 10, "https://www.impots.gouv.fr/")
    return bytes(document.output())


def certificate() -> bytes:
    from procedures.operations.attestations import Certificate, render_pdf

    return render_pdf(
        Certificate(
            town="Ville-sur-Test",
            title="Attestation fiscale",
            paragraphs=("Frais de garde 2025 : 1 234,00 €.",),
            reference="DEM-2026-000123",
            issued_on=date(2026, 9, 1),
            issued_at=datetime(2026, 9, 1, 8, 0, tzinfo=UTC),
        )
    )


def demo_notice() -> bytes:
    from demo.seed import demo_pdf

    return demo_pdf("Avis d'imposition - Foyer Martin")


HOSTILE: dict[str, Case] = {
    "names": ("20 M empty names in the catalogue", lambda: values_in_catalog(20_000_000)),
    "arrays": ("10 M empty arrays in the catalogue", lambda: values_in_catalog(10_000_000, b"[]")),
    "object-stream": (
        "catalogue in an object stream with 4 M empty arrays",
        lambda: object_stream_values(4_000_000),
    ),
    "chain-50": (
        "50 object streams, each one's length in the next",
        lambda: chained_object_streams(50, filler=300_000),
    ),
    "chain-3000": (
        "3,000 object streams chained by their lengths",
        lambda: chained_object_streams(3000),
    ),
    "xref-length": (
        "older xref stream's length in an object stream",
        lambda: xref_stream_length_in_object_stream(4_000_000),
    ),
    "xref-entries": (
        "xref stream of 2.9 M entries, uncompressed",
        lambda: hand_made().with_xref_stream(padding=2_900_000, encode=bytes),
    ),
    "table-entries": (
        "classic table of 1 M entries",
        lambda: hand_made().with_table(padding=1_000_000),
    ),
    "trailer-size": (
        "trailer /Size 2,000,000,000",
        lambda: hand_made().with_table().replace(b"/Size 4 ", b"/Size 2000000000 "),
    ),
    "lzw": (
        "LZW xref stream: 0.5 MB decoding to 700 MB",
        lambda: hand_made().with_xref_stream(
            b"/Filter /LZWDecode", encode=lambda _: lzw_zeros(100)
        ),
    ),
    "objstm-n": (
        "object stream claiming 100 M objects",
        lambda: object_stream_claiming(100_000_000),
    ),
    "nesting": ("100,000 nested arrays", lambda: deeply_nested(100_000)),
    "tiny-objects": ("400,000 one-value objects", lambda: tiny_objects(400_000)),
    "unparsable": ("150,000 objects qpdf cannot parse", lambda: unparsable_objects(150_000)),
    # the most a file may make qpdf parse: just under the budget, walked to its end
    "names-budget": (
        "1,999,900 empty names (within the budget)",
        lambda: values_in_catalog(1_999_900),
    ),
    "arrays-budget": (
        "1,999,900 empty arrays (within the budget)",
        lambda: values_in_catalog(1_999_900, b"[]"),
    ),
}
CLEAN: dict[str, Case] = {
    "demo-notice": ("the demo tax notice (demo.seed)", demo_notice),
    "certificate": ("a certificate the town issues (fpdf2)", certificate),
    "fpdf-300-pages": ("300 pages of text with links (fpdf2)", fpdf_report),
    "linearized": (
        "a linearized page with object streams (qpdf)",
        lambda: built_pdf(linearize=True),
    ),
    "150k-objects": ("150,000 small objects in a chain", lambda: tiny_objects(150_000)),
}
CASES = HOSTILE | CLEAN


def _status(field: str) -> float:
    """A VmRSS/VmHWM figure of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no {field} in /proc/self/status")


def measure(name: str) -> None:
    """In the child: build the case, check it, print one JSON line."""
    from coffre.inspection.pdf import pdf_problem

    content = CASES[name][1]()
    Path("/proc/self/clear_refs").write_text("5")  # the peak RSS starts again from here
    before = _status("VmRSS")
    started = time.perf_counter()
    problem = pdf_problem(io.BytesIO(content))
    seconds = time.perf_counter() - started
    verdict = problem.value if problem else "accepted"
    peak = _status("VmHWM") - before
    print(json.dumps({"size": len(content), "verdict": verdict, "seconds": seconds, "peak": peak}))


def run(name: str, timeout: float) -> str:
    """One case in a fresh process: its figures, or how it ended."""
    try:
        child = subprocess.run(  # noqa: S603  (this script, its own case names)
            [sys.executable, __file__, "--case", name],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"{'':>9} {'':>14} still running after {timeout:.0f} s"
    if child.returncode != 0:
        return f"{'':>9} {'':>14} process died (exit {child.returncode})"
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    return (
        f"{figures['size'] / MIB:7.2f} MiB {figures['verdict']:>14}"
        f" {figures['seconds']:7.2f} s {figures['peak']:8.0f} MiB"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", default="", help="comma-separated case names")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per case")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        measure(args.case)
        return
    names = [n for n in args.only.split(",") if n] or list(CASES)
    import coffre.inspection.pdf

    print(f"coffre.inspection.pdf from {coffre.inspection.pdf.__file__}")
    print(f"{'case':<16} {'what':<54} {'size':>11} {'verdict':>14} {'time':>9} {'peak':>12}")
    for name in names:
        what = CASES[name][0]
        print(f"{name:<16} {what:<54} {run(name, args.timeout)}", flush=True)


if __name__ == "__main__":
    main()
