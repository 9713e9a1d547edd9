"""Each invoice as a PDF in the foyer's vault, announced once by e-mail."""

from __future__ import annotations

import io
import json

import pikepdf
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Role
from coffre.consent import FamilyReader
from coffre.models import Channel, Document
from coffre.vault import Vault
from facturation import documents
from facturation.models import Invoice
from notifications.models import OutboxMessage
from tests.factories import make_account
from tests.facturation.scene import Town


def test_an_invoice_lands_in_the_vault_as_a_town_document_and_is_announced_once(
    town: Town,
    db_session: Session,
    vault: Vault,
) -> None:
    foyer = town.family("Martin", band="B")
    account = make_account(db_session, town.clock, Role.FAMILLE, foyer_id=foyer.id)
    town.book(foyer)
    town.emit()
    settings = documents.Settings(vault=vault, base_url="https://portail.bellerive.example")

    assert documents.issue_documents(db_session, town.clock, settings) == 1
    assert documents.issue_documents(db_session, town.clock, settings) == 0  # once

    invoice = db_session.scalars(select(Invoice)).one()
    document = db_session.get(Document, invoice.document_id)
    assert document is not None
    assert (document.type_code, document.channel, document.foyer_id) == (
        "facture", Channel.MAIRIE, foyer.id,
    )  # fmt: skip
    assert document.original_name == f"facture-{invoice.number}.pdf"
    opened = vault.open(db_session, FamilyReader(account.id, foyer.id), document.id)
    with pikepdf.open(io.BytesIO(b"".join(opened.chunks))) as pdf:
        text = pdf.pages[0].Contents.read_bytes().decode("cp1252")
    assert f"Facture n° {invoice.number} - septembre 2026" in text
    assert "Lou Martin - Cantine de l'école Jules-Ferry" in text
    assert r"4 jour\(s\)" in text and "1,20 €" in text and "4,80 €" in text
    mails = db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "facture_emise")
    ).all()
    assert [mail.recipient for mail in mails] == [account.email]
    assert (
        json.loads(mails[0].context)["lien"] == "https://portail.bellerive.example/famille/factures"
    )
