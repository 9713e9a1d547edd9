"""The family account: invoices and their state, payments, the balance, the prices applied."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Account, Role
from coffre.clock import local_today
from coffre.models import Foyer
from facturation import ledger, payments, tariffs
from facturation.errors import BillingError, BillingNotFound
from facturation.models import PaymentState
from web import paiement
from web.auth.guard import role_required
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
    page = render_template(
        "famille/factures.html",
        account=ledger.account_of(db(), foyer.id, today),
        band=tariffs.band_of(foyer, today),
        valid_until=foyer.qf_valid_until,
        prices=tariffs.prices_for_foyer(db(), foyer, today),
        online=bool(runtime().settings.payment_backend),
        opens=paiement.gateway().window_opens(today),
        error=error,
    )
    return page, status


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
