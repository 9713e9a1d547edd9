"""Paying an invoice online through the dummy backend, end to end through the real routes:
the family's form, the bank's page, the server-to-server notification, the return."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pikepdf
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Account, Entity, Role
from coffre.clock import FrozenClock
from coffre.models import Foyer, FoyerMember
from facturation import ledger
from facturation.models import Invoice, Payment, PaymentNotification, PaymentState
from reservations.models import Activity, ActivityKind
from tests.factories import make_account, make_agent, make_service, page_text
from tests.web.agent.test_guichet import open_counter
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token, log_in
from tests.web.famille.test_factures import invoiced_september, zoe_at_the_canteen
from web.runtime import runtime


@pytest.fixture
def invoice(db_session: Session, clock: FrozenClock, family: Account) -> Invoice:
    invoiced_september(db_session, clock, zoe_at_the_canteen(db_session, clock, family))
    clock.current = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
    return db_session.scalars(select(Invoice)).one()


def pay(client: FlaskClient, *invoice_ids: int) -> tuple[int, dict[str, str]]:
    """Tick the invoices and press "Payer en ligne": the answer and the bank's query."""
    token = csrf_token(client, "/famille/factures")
    data = {"csrf_token": token, "facture": [str(i) for i in invoice_ids]}
    response = client.post("/famille/factures/payer", data=data)
    location = urlsplit(response.headers.get("Location", ""))
    return response.status_code, {k: v[0] for k, v in parse_qs(location.query).items()}


def notify(client: FlaskClient, **fields: str) -> None:
    """The bank's server tells the portal (no session, no CSRF token)."""
    bank = client.application.test_client()
    response = bank.post(
        "/paiement/notification",
        data=urlencode(fields),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200


def outcomes(session: Session) -> list[str]:
    return list(
        session.scalars(select(PaymentNotification.outcome).order_by(PaymentNotification.id))
    )


def test_a_family_pays_its_invoice_once_whatever_the_bank_repeats(
    family_client: FlaskClient, invoice: Invoice, db_session: Session, family: Account
) -> None:
    status, bank = pay(family_client, invoice.id)
    assert status == 303 and bank["amount"] == "15.60"
    assert bank["return_url"].endswith("/famille/factures/retour")
    assert bank["direct_notification_url"].endswith("/paiement/notification")
    page = page_text(family_client.get("/paiement/banque-fictive?" + urlencode(bank)))
    assert "Paiement de 15,60 €" in page

    paid = {"transaction_id": bank["transaction_id"], "amount": "15.60", "ok": "1"}
    notify(family_client, **paid, signed="1")
    notify(family_client, **paid, signed="1")  # the bank sends it again
    back = family_client.get("/famille/factures/retour?" + urlencode(paid), follow_redirects=True)

    assert "Merci : votre paiement est enregistré." in page_text(back)
    payment = db_session.scalars(select(Payment)).one()
    assert (payment.state, payment.amount_cents) == (PaymentState.PAYE, 1560)
    assert outcomes(db_session) == ["credite", "deja_credite", "non_signee"]  # the return
    assert family.foyer_id is not None and ledger.balance(db_session, family.foyer_id) == 0
    assert ledger.verify(db_session) == []
    assert "Votre compte est à jour" in page_text(family_client.get("/famille/factures"))
    status, _ = pay(family_client, invoice.id)
    assert status == 409  # paid already


def test_a_return_alone_or_a_forged_notification_credits_nothing(
    family_client: FlaskClient, invoice: Invoice, db_session: Session, family: Account
) -> None:
    _, bank = pay(family_client, invoice.id)
    paid = {"transaction_id": bank["transaction_id"], "amount": "15.60", "ok": "1"}

    back = family_client.get("/famille/factures/retour?" + urlencode(paid), follow_redirects=True)
    notify(family_client, **paid)  # not signed
    notify(family_client, **paid | {"transaction_id": "inconnu"}, signed="1")
    notify(family_client, **paid | {"amount": "0.01"}, signed="1")  # a tampered amount
    notify(family_client, garbage="1")

    assert "en cours de confirmation" in page_text(back)
    assert outcomes(db_session) == ["non_signee", "non_signee", "inconnue", "montant", "illisible"]
    assert db_session.scalars(select(Payment)).one().state is PaymentState.EN_COURS
    assert family.foyer_id is not None and ledger.balance(db_session, family.foyer_id) == 1560

    refused = {"transaction_id": bank["transaction_id"], "amount": "15.60", "reason": "refus"}
    notify(family_client, **refused, signed="1")
    db_session.expire_all()
    assert db_session.scalars(select(Payment)).one().state is PaymentState.REFUSE
    status, _ = pay(family_client, invoice.id)
    assert status == 303  # still due: the family may try again


def test_paying_what_is_not_the_familys_to_pay_is_refused(
    client: FlaskClient, invoice: Invoice, db_session: Session, clock: FrozenClock
) -> None:
    stranger = make_account(db_session, clock, Role.FAMILLE)
    assert log_in(client, stranger.email).status_code == 302

    assert pay(client, invoice.id)[0] == 404
    assert pay(client)[0] == 409  # nothing ticked
    assert db_session.scalars(select(Payment)).all() == []


def test_the_stand_in_bank_talks_to_this_portal_only(
    family_client: FlaskClient, invoice: Invoice
) -> None:
    _, bank = pay(family_client, invoice.id)
    elsewhere = bank | {"direct_notification_url": "http://169.254.169.254/latest"}

    assert family_client.get("/paiement/banque-fictive?" + urlencode(elsewhere)).status_code == 400
    assert family_client.get("/paiement/banque-fictive").status_code == 400


def test_a_paid_year_of_creche_gives_a_certificate_of_childcare_costs(
    family_client: FlaskClient,
    invoice: Invoice,
    db_session: Session,
    family: Account,
    clock: FrozenClock,
) -> None:
    _, bank = pay(family_client, invoice.id)
    notify(family_client, transaction_id=bank["transaction_id"], amount="15.60", ok="1", signed="1")
    token = csrf_token(family_client, "/famille/factures")

    none = family_client.post(
        "/famille/factures/attestation", data={"csrf_token": token, "annee": "2026"}
    )
    zoe = db_session.scalars(select(FoyerMember).where(FoyerMember.first_name == "Zoé")).one()
    zoe.birth_date = date(2022, 5, 1)  # under six: her care counts; not the canteen's meals
    canteen = db_session.scalars(select(Activity)).one()
    canteen.kind = ActivityKind.CRECHE
    db_session.commit()
    issued = family_client.post(
        "/famille/factures/attestation", data={"csrf_token": token, "annee": "2026"}
    )
    again = family_client.post(
        "/famille/factures/attestation", data={"csrf_token": token, "annee": "2026"}
    )

    assert none.status_code == 409
    assert "Aucun frais de garde payé en 2026" in page_text(none)
    assert issued.status_code == again.status_code == 303
    assert issued.headers["Location"] == again.headers["Location"]  # one a day
    pdf = family_client.get(issued.headers["Location"])
    assert pdf.mimetype == "application/pdf"
    with pikepdf.open(io.BytesIO(pdf.get_data())) as document:
        text = document.pages[0].Contents.read_bytes().decode("cp1252")
    assert "Attestation de frais de garde - année 2026" in text
    assert r"Zoé Test, né\(e\) le 1er mai 2022 : 15,60 €" in text  # a PDF string escapes ()
    clock.current += timedelta(days=1)  # asked again another day: a new version
    later = family_client.post(
        "/famille/factures/attestation", data={"csrf_token": token, "annee": "2026"}
    )
    assert later.status_code == 303 and later.headers["Location"] != issued.headers["Location"]


def test_the_counter_records_a_cheque_and_a_family_cannot(
    client: FlaskClient, invoice: Invoice, db_session: Session, clock: FrozenClock, family: Account
) -> None:
    agent = make_agent(db_session, clock, make_service(db_session, runs_counter=True))
    assert sign_in_agent(client, agent).status_code == 302
    assert family.foyer_id is not None
    foyer = db_session.get(Foyer, family.foyer_id)
    assert foyer is not None
    foyer.label = "Famille Lefèvre"
    db_session.commit()
    assert open_counter(client, family.foyer_id).status_code == 303
    token = csrf_token(client, "/famille/factures")
    form = {
        "csrf_token": token,
        "facture": str(invoice.id),
        "moyen": "cheque",
        "recu": "R-2026-0042",
    }

    refused = client.post("/famille/factures/encaisser", data=form | {"moyen": "en_ligne"})
    recorded = client.post("/famille/factures/encaisser", data=form)

    assert refused.status_code == 409
    assert recorded.status_code == 303  # to the receipt, in the family's vault
    receipt = client.get(recorded.headers["Location"])
    with pikepdf.open(io.BytesIO(receipt.get_data())) as document:
        text = document.pages[0].Contents.read_bytes().decode("cp1252")
    assert "Reçu n° R-2026-0042" in text and "15,60 € \\(chèque\\)" in text
    assert "Paiement enregistré : reçu n° R-2026-0042." in page_text(
        client.get("/famille/factures")
    )
    payment = db_session.scalars(select(Payment)).one()
    assert (payment.method.value, payment.account_id, payment.amount_cents) == (
        "cheque",
        agent.id,
        1560,
    )
    assert ledger.balance(db_session, family.foyer_id) == 0 and ledger.verify(db_session) == []


def test_a_family_cannot_record_a_counter_payment(
    family_client: FlaskClient, invoice: Invoice, db_session: Session
) -> None:
    token = csrf_token(family_client, "/famille/factures")
    form = {"csrf_token": token, "facture": str(invoice.id), "moyen": "especes", "recu": "X"}

    assert family_client.post("/famille/factures/encaisser", data=form).status_code == 403
    assert db_session.scalars(select(Payment)).all() == []


def test_outside_its_entitys_window_an_invoice_says_when_payment_opens(
    app: Flask, family_client: FlaskClient, invoice: Invoice, db_session: Session
) -> None:
    slug = db_session.get(Entity, invoice.entity_id).slug  # type: ignore[union-attr]
    runtime(app).settings = replace(
        runtime(app).settings, payment_windows={"": (1, 28), slug: (12, 20)}
    )  # the clock is on 5 October: this entity's payments open on the 12th

    page = page_text(family_client.get("/famille/factures"))
    status, _ = pay(family_client, invoice.id)

    assert "Le paiement en ligne ouvre le 12 octobre." in page and "Payer en ligne" not in page
    assert status == 409
    assert db_session.scalars(select(Payment)).all() == []
