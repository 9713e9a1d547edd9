"""`flask facturation ...`: the monthly run, the ledger's check, a credit note, the export."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from facturation import ledger, payments
from facturation.models import Invoice, InvoiceKind, PaymentMethod
from tests.facturation.scene import Town


def test_the_commands_invoice_once_check_credit_and_export(
    app: Flask, town: Town, db_session: Session
) -> None:
    foyer = town.family("Martin", band="A")
    town.book(foyer)
    town.clock.current = datetime(2026, 10, 1, 5, 0, tzinfo=UTC)
    runner = app.test_cli_runner()
    entity = town.service.entity.name

    first = runner.invoke(args=["facturation", "emettre", "--mois", "2026-09"])
    again = runner.invoke(args=["facturation", "emettre", "--mois", "2026-09"])
    not_over = runner.invoke(args=["facturation", "emettre", "--mois", "2026-10"])
    garbled = runner.invoke(args=["facturation", "emettre", "--mois", "septembre"])

    assert first.exit_code == 0 and first.output == (
        f"{entity} : 1 facture(s) émise(s) pour septembre 2026, 2,00\xa0€.\n"
    )
    assert (
        again.output
        == f"{entity} : septembre 2026 est déjà facturé (1 facture(s)) ; rien de nouveau.\n"
    )
    assert not_over.exit_code == 1 and "octobre 2026 n'est pas terminé" in not_over.output
    assert garbled.exit_code == 2 and "attendu : AAAA-MM" in garbled.output
    invoice = db_session.scalars(select(Invoice)).one()

    credited = runner.invoke(
        args=["facturation", "avoir", "--facture", invoice.number, "--montant", "0,50",
              "--motif", "Repas non servi le 14 septembre"]
    )  # fmt: skip
    too_much = runner.invoke(
        args=["facturation", "avoir", "--facture", invoice.number, "--montant", "1,51",
              "--motif", "Trop"]
    )  # fmt: skip
    checked = runner.invoke(args=["facturation", "verifier"])
    exported = runner.invoke(args=["facturation", "export", "--mois", "2026-10"])

    assert credited.exit_code == 0 and "de 0,50\xa0€ sur la facture" in credited.output
    assert too_much.exit_code == 1 and "ne pas dépasser ce qui reste" in too_much.output
    assert ledger.balance(db_session, foyer.id) == 150
    assert checked.exit_code == 0 and "Grand livre cohérent" in checked.output
    note = db_session.scalars(select(Invoice).where(Invoice.kind == InvoiceKind.AVOIR)).one()
    assert note.number.endswith("-2026-000002")  # the same sequence, no gap
    rows = exported.output.lstrip("\ufeff").splitlines()
    assert rows[0].startswith("entite;type;numero;date;foyer")
    assert [row.split(";")[1:3] for row in rows[1:]] == [
        ["facture", invoice.number], ["avoir", note.number],
    ]  # fmt: skip
    assert rows[2].endswith(f";0,50;;{invoice.number};Repas non servi le 14 septembre")

    db_session.execute(text("DELETE FROM ledger_entries WHERE kind = 'avoir'"))
    db_session.commit()
    broken = runner.invoke(args=["facturation", "verifier"])
    assert broken.exit_code == 1 and "écart(s) dans le grand livre" in broken.output


def test_a_credit_note_on_a_paid_invoice_is_refunded_once(
    app: Flask, town: Town, db_session: Session
) -> None:
    foyer = town.family("Martin", band="A")
    town.book(foyer)
    town.emit()
    invoice = db_session.scalars(select(Invoice)).one()
    payments.record_at_counter(
        db_session, town.clock, None, foyer.id, PaymentMethod.CHEQUE, [invoice.id], "R-1"
    )
    runner = app.test_cli_runner()
    runner.invoke(
        args=["facturation", "avoir", "--facture", invoice.number, "--montant", "0,50",
              "--motif", "Repas non servi"]
    )  # fmt: skip
    assert ledger.balance(db_session, foyer.id) == -50  # the town owes the family 0.50 EUR
    refund = ["facturation", "rembourser", "--foyer", str(foyer.id),
              "--entite", str(invoice.entity_id), "--reference", "VIR-2026-7"]  # fmt: skip

    too_much = runner.invoke(args=[*refund, "--montant", "0,51"])
    paid_back = runner.invoke(args=[*refund, "--montant", "0,50"])
    again = runner.invoke(args=[*refund[:-1], "VIR-2026-8", "--montant", "0,01"])

    assert too_much.exit_code == 1 and "ne pas dépasser 0,50" in too_much.output
    assert paid_back.exit_code == 0 and "Remboursement de 0,50\xa0€ enregistré" in paid_back.output
    assert again.exit_code == 1  # nothing owed any more
    assert ledger.balance(db_session, foyer.id) == 0
    assert runner.invoke(args=["facturation", "verifier"]).exit_code == 0
