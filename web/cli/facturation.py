"""`flask facturation ...`: the monthly run of invoices and the ledger's check."""

from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup

from facturation import ledger, run
from facturation.errors import BillingError
from facturation.money import euros
from web.runtime import runtime

facturation_cli = AppGroup("facturation", help="Billing: monthly invoices, the ledger.")


def _month(value: str) -> date:
    try:
        return date.fromisoformat(f"{value}-01")
    except ValueError:
        raise click.BadParameter("attendu : AAAA-MM, par exemple 2026-11") from None


@facturation_cli.command("emettre")
@click.option("--mois", "month", required=True, help="Le mois à facturer, AAAA-MM.")
def emettre(month: str) -> None:
    """Invoice a finished month for every entity (again: creates nothing, and says so)."""
    first = _month(month)
    rt = runtime()
    with rt.sessions() as session:
        try:
            results = run.emit(session, rt.clock, first)
        except BillingError as error:
            click.echo(error.message, err=True)
            raise SystemExit(1) from None
    for result in results:
        if result.created:
            click.echo(
                f"{result.entity} : {result.invoices} facture(s) émise(s) pour "
                f"{run.month_name(result.month)}, {euros(result.total_cents)}."
            )
        else:
            click.echo(
                f"{result.entity} : {run.month_name(result.month)} est déjà facturé "
                f"({result.invoices} facture(s)) ; rien de nouveau."
            )


@facturation_cli.command("verifier")
def verifier() -> None:
    """Check that each foyer's balance is its invoices minus its payments and credit notes."""
    rt = runtime()
    with rt.sessions() as session:
        problems = ledger.verify(session)
    for problem in problems:
        click.echo(problem)
    if problems:
        click.echo(f"{len(problems)} écart(s) dans le grand livre.")
        raise SystemExit(1)
    click.echo("Grand livre cohérent : chaque solde égale factures - paiements - avoirs.")
