"""API: the foyers known to the caller's services, registrations, bookings, invoices, payments."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from interop import views
from interop.pages import Page
from web.api import oauth
from web.api.schemas import (
    BookingsPage,
    EnrolmentsPage,
    FoyerOut,
    FoyersPage,
    InvoicesPage,
    ListQuery,
    PaymentsPage,
    problems,
)
from web.runtime import db

blp = Blueprint(
    "foyers-et-services", __name__, url_prefix="/api/v1",
    description="Foyers, inscriptions, réservations et présences, factures et paiements.",
)  # fmt: skip
blp.after_request(oauth.journal)


def _page(found: Page[dict[str, Any]]) -> dict[str, Any]:
    return {"items": found.items, "next_cursor": found.next_cursor}


LIST_ERRORS = (400, 401, 403, 422, 429)


@blp.route("/foyers")
class Foyers(MethodView):
    @oauth.scoped("foyers:read")
    @blp.arguments(ListQuery, location="query", as_kwargs=True)
    @blp.response(200, FoyersPage)
    @problems(blp, *LIST_ERRORS)
    def get(self, **query: Any) -> dict[str, Any]:
        """Les foyers ayant une demande ou une inscription dans les services de l'entité
        (`updated_since` porte sur leur date de création)."""
        return _page(views.foyers(db(), g.api_caller, **query))


@blp.route("/foyers/<int:foyer_id>")
class OneFoyer(MethodView):
    @oauth.scoped("foyers:read")
    @blp.response(200, FoyerOut)
    @problems(blp, 401, 403, 404, 429)
    def get(self, foyer_id: int) -> dict[str, Any]:
        """Un foyer : adresse, quotient familial, adultes et enfants."""
        return views.foyer(db(), g.api_caller, foyer_id)


@blp.route("/inscriptions")
class Enrolments(MethodView):
    @oauth.scoped("reservations:read")
    @blp.arguments(ListQuery, location="query", as_kwargs=True)
    @blp.response(200, EnrolmentsPage)
    @problems(blp, *LIST_ERRORS)
    def get(self, **query: Any) -> dict[str, Any]:
        """Les inscriptions des enfants aux activités de l'entité."""
        return _page(views.enrolments(db(), g.api_caller, **query))


@blp.route("/reservations")
class Bookings(MethodView):
    @oauth.scoped("reservations:read")
    @blp.arguments(ListQuery, location="query", as_kwargs=True)
    @blp.response(200, BookingsPage)
    @problems(blp, *LIST_ERRORS)
    def get(self, **query: Any) -> dict[str, Any]:
        """Les réservations, avec la présence pointée (null tant qu'elle ne l'est pas)."""
        return _page(views.bookings(db(), g.api_caller, **query))


@blp.route("/factures")
class Invoices(MethodView):
    @oauth.scoped("facturation:read")
    @blp.arguments(ListQuery, location="query", as_kwargs=True)
    @blp.response(200, InvoicesPage)
    @problems(blp, *LIST_ERRORS)
    def get(self, **query: Any) -> dict[str, Any]:
        """Les factures et avoirs de l'entité, avec leurs lignes (`updated_since` : émission)."""
        return _page(views.invoices(db(), g.api_caller, **query))


@blp.route("/paiements")
class Payments(MethodView):
    @oauth.scoped("facturation:read")
    @blp.arguments(ListQuery, location="query", as_kwargs=True)
    @blp.response(200, PaymentsPage)
    @problems(blp, *LIST_ERRORS)
    def get(self, **query: Any) -> dict[str, Any]:
        """Les paiements et remboursements, et les factures que chacun règle."""
        return _page(views.payments(db(), g.api_caller, **query))
