"""The family account: invoices and their state, payments, the balance, the prices applied."""

from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Account, Entity, Role
from coffre.clock import local_today
from coffre.models import Foyer
from facturation import certificates, ledger, payments, tariffs
from facturation import documents as invoice_documents
from facturation.errors import BillingError, BillingNotFound
from facturation.models import PaymentMethod, PaymentState
from web import paiement
from web.auth.guard import role_required
from web.counter import acted_foyer_id
from web.famille.blueprint import bp, family_reader
from web.runtime import db, runtime


@bp.get("/factures")
@role_required(Role.FAMILLE)
def factures() -> tuple[str, int]:
    return _page()


def _page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    today = local_today(runtime().clock)
    foyer = db().get(Foyer, family_reader().foyer_id)
    assert foyer is not None
    account = ledger.account_of(db(), foyer.id, today)
    page = render_template(
        "famille/factures.html",
        account=account,
        band=tariffs.band_of(foyer, today),
        valid_until=foyer.qf_valid_until,
        prices=tariffs.prices_for_foyer(db(), foyer, today),
        online=bool(runtime().settings.payment_backend),
        opens=_opens(account, today),
        years=(today.year - 1, today.year),
        at_counter=acted_foyer_id() is not None,
        methods=payments.COUNTER_METHODS,
        error=error,
    )
    return page, status


def _opens(account: ledger.Account, today: date) -> dict[int, date]:
    """Per invoice still to pay, the day online payment to its entity opens, if not today."""
    gateway = paiement.gateway()
    slugs = {row.id: row.slug for row in db().execute(select(Entity.id, Entity.slug))}
    opens = {}
    for view in account.invoices:
        day = gateway.window_opens(today, slugs.get(view.invoice.entity_id, ""))
        if view.left_cents and day is not None:
            opens[view.invoice.id] = day
    return opens


@bp.post("/factures/attestation")
@role_required(Role.FAMILLE)
def factures_attestation() -> tuple[str, int] | BaseResponse:
    """The year's certificate of childcare costs, issued into the vault, then downloaded."""
    year = request.form.get("annee", "")
    if not (year.isascii() and year.isdigit() and len(year) == 4):
        return _page(_("Choose a year."), 400)
    try:
        document = certificates.issue(
            db(), runtime().clock, runtime().vault, family_reader().foyer_id, int(year),
            certificates.town_name(db()),
        )  # fmt: skip
    except BillingError as error:
        return _page(error.message, 409)
    return redirect(url_for("famille.fichier", document_id=document.id), code=303)


@bp.post("/factures/encaisser")
@role_required(Role.FAMILLE)
def factures_encaisser() -> tuple[str, int] | BaseResponse:
    """At the counter (an agent acting for the family): cash, cheque or CESU, with the
    receipt's number; the ticked invoices are paid in full."""
    if acted_foyer_id() is None:
        return _page(_("Only the town hall's counter records a payment here."), 403)
    reader = family_reader()
    chosen = [int(v) for v in request.form.getlist("facture") if v.isascii() and v.isdigit()]
    try:
        method = PaymentMethod(request.form.get("moyen", ""))
        payment = payments.record_at_counter(
            db(), runtime().clock, reader.account_id or 0, reader.foyer_id, method, chosen,
            request.form.get("recu", ""),
        )  # fmt: skip
    except ValueError:
        return _page(_("Choose how the family paid."), 400)
    except BillingNotFound as error:
        return _page(error.message, 404)
    except BillingError as error:
        return _page(error.message, 409)
    receipt = invoice_documents.issue_receipt(db(), runtime().clock, runtime().vault, payment)
    flash(_("Payment recorded: receipt %(receipt)s.", receipt=payment.reference), "success")
    return redirect(url_for("famille.fichier", document_id=receipt), code=303)  # to print


@bp.post("/factures/payer")
@role_required(Role.FAMILLE)
def factures_payer() -> tuple[str, int] | BaseResponse:
    """Pay the ticked invoices online: the payment is created here, then the family goes to
    the payment page (PayFiP's, or the demo's stand-in)."""
    reader = family_reader()
    account = db().get(Account, reader.account_id)
    if not runtime().settings.payment_backend or account is None:
        return _page(_("Online payment is not open: pay at the town hall's counter."), 409)
    chosen = [int(v) for v in request.form.getlist("facture") if v.isascii() and v.isdigit()]
    try:
        started = payments.start_online(
            db(), runtime().clock, paiement.gateway(), reader.foyer_id, account.id,
            account.email, chosen, paiement.urls(),
        )  # fmt: skip
    except BillingNotFound as error:
        return _page(error.message, 404)
    except BillingError as error:
        return _page(error.message, 409)
    return redirect(paiement.bank_url(started.redirect_url), code=303)


@bp.get("/factures/retour")
@role_required(Role.FAMILLE)
def factures_retour() -> BaseResponse:
    """Back from the payment page: the backend is asked (PayFiP) or the notification has
    told (the demo's); the family reads where its payment stands."""
    query = request.query_string.decode("ascii", "replace")
    outcome = payments.settle(db(), runtime().clock, paiement.gateway(), query, "retour")
    payment = outcome.payment
    if payment is None or payment.foyer_id != family_reader().foyer_id:
        flash(_("This payment is unknown: nothing was debited on its behalf."), "error")
    elif payment.state is PaymentState.PAYE:
        flash(_("Thank you: your payment is recorded."), "success")
    elif payment.state is PaymentState.REFUSE:
        flash(_("The payment was refused or cancelled: nothing was debited."), "error")
    else:
        flash(_("Your payment is being confirmed by the bank: this page will show it."), "info")
    return redirect(url_for("famille.factures"), code=303)
