"""Which built-in procedures a family renews each year, and that each renewal makes sense."""

from __future__ import annotations

import pytest

from procedures import catalogue
from procedures.definitions import Definition

# The yearly registrations: each is for one child and one school year, renewed from last
# year's answers. Left out on purpose: the crèche and school registrations (once per cycle),
# the catchment-area exemption (for the cycle), the holiday centre (its weeks change each
# holiday), certificates and reports (one-off), and the family quotient, recomputed each
# year from the new tax notice rather than from last year's figures.
YEARLY = {"periscolaire", "transport_scolaire", "pai", "ecole_municipale"}


def definitions() -> list[Definition]:
    return [catalogue.read_built_in(code)[0] for code in catalogue.built_in_codes()]


def test_the_yearly_registrations_are_the_ones_with_a_renewal_window() -> None:
    renewed = {d.code for d in definitions() if d.renewal is not None}

    assert renewed == YEARLY & set(catalogue.built_in_codes())


@pytest.mark.parametrize(
    "definition", [d for d in definitions() if d.renewal is not None], ids=lambda d: d.code
)
def test_a_renewal_is_for_a_child_and_the_coming_school_year(definition: Definition) -> None:
    assert definition.renewal is not None and definition.season_start is not None
    assert any(field.name == "enfant" and field.type == "child" for field in definition.fields)
    # The window closes by the day the season starts: renewals are for the coming year.
    assert definition.renewal.opens < definition.renewal.closes < definition.season_start
