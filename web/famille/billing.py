"""The family account: invoices and their state, payments, the balance, the prices applied."""

from __future__ import annotations

from flask import render_template

from accounts.models import Role
from coffre.clock import local_today
from coffre.models import Foyer
from facturation import ledger, tariffs
from web.auth.guard import role_required
from web.famille.blueprint import bp, family_reader
from web.runtime import db, runtime


@bp.get("/factures")
@role_required(Role.FAMILLE)
def factures() -> str:
    today = local_today(runtime().clock)
    foyer = db().get(Foyer, family_reader().foyer_id)
    assert foyer is not None
    return render_template(
        "famille/factures.html",
        account=ledger.account_of(db(), foyer.id, today),
        band=tariffs.band_of(foyer, today),
        valid_until=foyer.qf_valid_until,
        prices=tariffs.prices_for_foyer(db(), foyer, today),
    )
