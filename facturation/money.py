"""Euros as integer cents: parsing what an administrator types, rounding, printing in French.

Rounding rule, the only one: a line's amount is its quantity times its unit price, rounded
half up to the cent (an hourly tariff times minutes / 60); an invoice's total is the sum of
its lines' amounts, never a rounding of its own.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MAX_CENTS = 100_000_00  # 100,000 EUR: no tariff or payment of the portal goes beyond


class MoneyError(ValueError):
    """An amount that is not one, in French."""


def parse_euros(text: str) -> int:
    """Cents from "3,45", "3.45", "3" or "1 234,50"; refuses more than two decimals."""
    cleaned = text.strip().replace("\u202f", "").replace("\xa0", "").replace(" ", "")
    cleaned = cleaned.removesuffix("€").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise MoneyError("Saisissez un montant en euros, par exemple 3,45.") from None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise MoneyError("Un montant a au plus deux décimales (les centimes).")
    if value < 0 or value * 100 > MAX_CENTS:
        raise MoneyError("Le montant doit être compris entre 0 et 100 000 €.")
    return int(value * 100)


def prorated(minutes: int, hourly_cents: int) -> int:
    """An hourly price for so many minutes, rounded half up to the cent."""
    exact = Decimal(minutes) * Decimal(hourly_cents) / Decimal(60)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def euros(cents: int) -> str:
    """ "1 234,50 €" (narrow no-break spaces, as French typography writes amounts)."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    grouped = f"{whole:,}".replace(",", "\u202f")
    return f"{sign}{grouped},{rest:02d}\u00a0€"
