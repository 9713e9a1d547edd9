"""The payment backend's side of online payment: its server-to-server notification, and, in
the demo and the tests (PAYMENT_BACKEND=dummy), a stand-in for the bank's payment page.

The notification is public (the backend calls it, with no session) and exempt from CSRF:
what it says is believed only when the backend vouches for it (`facturation.payments.settle`).
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlencode
from urllib.request import Request, urlopen

from flask import Blueprint, abort, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from facturation import payments
from facturation.money import euros
from web.extensions import csrf
from web.runtime import db, runtime

bp = Blueprint("paiement", __name__, url_prefix="/paiement")
log = logging.getLogger(__name__)


def gateway() -> payments.Gateway:
    settings = runtime().settings
    return payments.Gateway(
        settings.payment_backend, settings.payment_options, settings.payment_windows
    )


def urls() -> tuple[str, str]:
    """Where the backend sends the family back, and where it notifies: from BASE_URL."""
    base = runtime().settings.base_url
    return f"{base}/famille/factures/retour", f"{base}/paiement/notification"


def bank_url(url: str) -> str:
    """Where to send the family to pay: the backend's page; the dummy's is served here."""
    if runtime().settings.payment_backend != "dummy":
        return url
    query = url.partition("?")[2]
    return f"{runtime().settings.base_url}/paiement/banque-fictive?{query}"


@bp.post("/notification")
@csrf.exempt
def notification() -> tuple[str, int]:
    """The backend's server-to-server notification: credits once, whatever it repeats."""
    if not runtime().settings.payment_backend:
        abort(404)
    body = request.get_data(as_text=True) or request.query_string.decode("ascii", "replace")
    outcome = payments.settle(db(), runtime().clock, gateway(), body, "notification")
    log.info("payment notification: %s", outcome.reason)
    return "OK", 200


# The demo's bank: only with the dummy backend, never in production (settings refuse it).


def _dummy_only() -> dict[str, str]:
    if runtime().settings.payment_backend != "dummy":
        abort(404)
    fields = {key: values[0] for key, values in parse_qs(request.query_string.decode()).items()}
    base = runtime().settings.base_url
    for target in ("return_url", "direct_notification_url"):
        if not fields.get(target, "").startswith(f"{base}/"):
            abort(400)  # the stand-in bank talks to this portal only
    if "transaction_id" not in fields or "amount" not in fields:
        abort(400)
    return fields


@bp.get("/banque-fictive")
def banque_fictive() -> str:
    fields = _dummy_only()
    return render_template("paiement/banque_fictive.html", fields=fields, euros=euros)


@bp.post("/banque-fictive")
def banque_fictive_payer() -> BaseResponse:
    """Pay (or refuse): notify the portal server to server, then send the family back."""
    fields = _dummy_only()
    # End this request's transaction first: on SQLite it holds the write lock the
    # notification below needs, and the bank would wait for itself.
    db().rollback()
    answer = {"transaction_id": fields["transaction_id"], "amount": fields["amount"]}
    answer |= {"ok": "1"} if request.form.get("action") == "payer" else {"reason": "refus"}
    notice = Request(  # noqa: S310  (BASE_URL's notification route, checked above)
        fields["direct_notification_url"],
        data=urlencode(answer | {"signed": "1"}).encode(),
        method="POST",
    )
    try:
        with urlopen(notice, timeout=10) as reply:  # noqa: S310  (BASE_URL, checked above)
            reply.read()
    except OSError as error:
        log.warning("dummy bank: notification failed: %s", type(error).__name__)
    return redirect(f"{fields['return_url']}?{urlencode(answer)}", code=303)
