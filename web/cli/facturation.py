"""`flask facturation ...`: the monthly run of invoices and the ledger's check."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask.cli import AppGroup

from facturation import corrections, export, ledger, payments, run
from facturation.errors import BillingError
from facturation.money import MoneyError, euros, parse_euros
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


@facturation_cli.command("avoir")
@click.option("--facture", "number", required=True, help="Le numéro de la facture corrigée.")
@click.option("--montant", required=True, help="Le montant de l'avoir en euros, 3,45.")
@click.option("--motif", required=True, help="Pourquoi (remis à la famille sur l'avoir).")
def avoir(number: str, montant: str, motif: str) -> None:
    """Credit part or all of an issued invoice (never an edit of it)."""
    rt = runtime()
    with rt.sessions() as session:
        try:
            note = corrections.credit_note(
                session, rt.clock, None, number, parse_euros(montant), motif
            )
        except (BillingError, MoneyError) as error:
            click.echo(getattr(error, "message", str(error)), err=True)
            raise SystemExit(1) from None
        click.echo(f"Avoir {note.number} de {euros(note.total_cents)} sur la facture {number}.")


@facturation_cli.command("export")
@click.option("--mois", "month", required=True, help="Le mois, AAAA-MM.")
@click.option("--sortie", type=click.Path(dir_okay=False), help="Le fichier CSV (sinon l'écran).")
def exporter(month: str, sortie: str | None) -> None:
    """The month's invoices, credit notes and payments for the public accountant (CSV)."""
    rt = runtime()
    with rt.sessions() as session:
        text = export.month_csv(session, _month(month))
    if sortie is None:
        click.echo(text, nl=False)
        return
    Path(sortie).write_text(text, encoding="utf-8", newline="")
    click.echo(f"Écrit : {sortie}")


@facturation_cli.command("rembourser")
@click.option("--foyer", "foyer_id", type=int, required=True, help="Le foyer remboursé.")
@click.option("--entite", "entity_id", type=int, required=True, help="L'entité qui rembourse.")
@click.option("--montant", required=True, help="Le montant en euros, 3,45.")
@click.option("--reference", required=True, help="La référence du virement ou du mandat.")
def rembourser(foyer_id: int, entity_id: int, montant: str, reference: str) -> None:
    """Pay back a foyer in credit (after a credit note on a paid invoice)."""
    rt = runtime()
    with rt.sessions() as session:
        try:
            refund = payments.refund(
                session, rt.clock, None, foyer_id, entity_id, parse_euros(montant), reference
            )
        except (BillingError, MoneyError) as error:
            click.echo(getattr(error, "message", str(error)), err=True)
            raise SystemExit(1) from None
        click.echo(f"Remboursement de {euros(-refund.amount_cents)} enregistré ({reference}).")
