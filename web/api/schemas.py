"""The API's typed schemas: what it answers and accepts; its OpenAPI text is built from them."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from interop.pages import DEFAULT_LIMIT, MAX_LIMIT
from procedures.models import DemandeStatus

Str, Int, Bool = fields.String, fields.Integer, fields.Boolean


class Problem(Schema):
    """An error, as RFC 9457 writes it: `title` in English, `detail` in French."""

    type = Str(required=True)
    title = Str(required=True)
    status = Int(required=True)
    detail = Str(required=True)
    lang = Str()
    errors = fields.Dict(metadata={"description": "Erreurs par champ (données refusées)"})


class ListQuery(Schema):
    updated_since = fields.AwareDateTime(
        metadata={"description": "Seulement ce qui a changé depuis (ISO 8601 avec fuseau)."}
    )
    cursor = Str(
        validate=validate.Length(max=200),
        metadata={"description": "Le `next_cursor` de la page précédente."},
    )
    limit = Int(
        load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"Au plus {MAX_LIMIT} éléments par page."},
    )  # fmt: skip


class DemandesQuery(ListQuery):
    status = fields.Enum(DemandeStatus, by_value=True)
    procedure = Str(
        validate=validate.Length(max=60), metadata={"description": "Code de la démarche"}
    )


class ProcedureRef(Schema):
    code = Str(required=True)
    title = Str(required=True)
    version = Int(required=True)


class DemandeSummary(Schema):
    id = Int(required=True)
    number = Str(required=True, allow_none=True)
    status = fields.Enum(DemandeStatus, by_value=True, required=True)
    procedure = fields.Nested(ProcedureRef, required=True)
    foyer_id = Int(required=True)
    created_at = fields.AwareDateTime(required=True)
    submitted_at = fields.AwareDateTime(required=True, allow_none=True)
    updated_at = fields.AwareDateTime(required=True)
    closed_at = fields.AwareDateTime(required=True, allow_none=True)
    version = Int(
        required=True, metadata={"description": "À renvoyer avec une écriture (concurrence)."}
    )


class Member(Schema):
    id = Int(required=True)
    role = Str(required=True, validate=validate.OneOf(["adulte", "enfant"]))
    first_name = Str(required=True)
    last_name = Str(required=True)
    birth_date = fields.Date(required=True, allow_none=True)
    school = Str(required=True, allow_none=True)
    has_pai = Bool(required=True)
    allergies = Str(required=True, allow_none=True)


class Address(Schema):
    line = Str(required=True)
    postal_code = Str(required=True)
    city = Str(required=True)


class FoyerOut(Schema):
    id = Int(required=True)
    label = Str(required=True)
    address = fields.Nested(Address, required=True)
    quotient_familial = Int(required=True, allow_none=True)
    tranche_qf = Str(required=True, allow_none=True)
    qf_valid_until = fields.Date(required=True, allow_none=True)
    emails = fields.List(Str(), required=True)
    members = fields.List(fields.Nested(Member), required=True)
    created_at = fields.AwareDateTime(required=True)


class FieldValue(Schema):
    name = Str(required=True)
    label = Str(required=True)
    type = Str(required=True)
    value = fields.Raw(required=True, allow_none=True)


class StepField(Schema):
    name = Str(required=True)
    label = Str(required=True)
    type = Str(required=True)
    required = Bool(required=True)
    choices = fields.List(Str(), required=True)


class Step(Schema):
    id = Int(required=True)
    title = Str(required=True)
    service = Str(required=True, allow_none=True)
    state = Str(required=True)
    for_family = Bool(required=True)
    workable = Bool(required=True)
    version = Int(required=True)
    due_at = fields.AwareDateTime(required=True, allow_none=True)
    form = fields.List(fields.Nested(StepField), required=True)


class HistoryLine(Schema):
    at = fields.AwareDateTime(required=True)
    kind = Str(required=True)
    status_from = Str(required=True, allow_none=True)
    status_to = Str(required=True, allow_none=True)
    comment = Str(required=True)
    internal = Bool(required=True)
    actor = Str(required=True, allow_none=True)


class DocumentOut(Schema):
    id = Int(required=True)
    type = Str(required=True)
    type_label = Str(required=True)
    member_id = Int(required=True, allow_none=True)
    state = Str(required=True)
    original_name = Str(required=True)
    mime_type = Str(required=True)
    size = Int(required=True)
    sha256 = Str(required=True)
    issued_on = fields.Date(required=True)
    valid_until = fields.Date(required=True, allow_none=True)


class DemandeOut(DemandeSummary):
    # `fields` is a Schema attribute: the answers are held as `answers`, named `fields` outside.
    answers = fields.List(
        fields.Nested(FieldValue), required=True, data_key="fields", attribute="fields"
    )
    child = fields.Nested(Member, required=True, allow_none=True)
    foyer = fields.Nested(FoyerOut, required=True)
    steps = fields.List(fields.Nested(Step), required=True)
    history = fields.List(fields.Nested(HistoryLine), required=True)
    documents = fields.List(fields.Nested(DocumentOut), required=True)


class StepIn(Schema):
    version = Int(required=True, metadata={"description": "La `version` de l'étape lue."})
    form = fields.Dict(
        keys=Str(validate=validate.Length(max=60)), load_default=dict,
        metadata={"description": "Les champs du formulaire de l'étape (dont la décision)."},
    )  # fmt: skip
    note = Str(load_default="", validate=validate.Length(max=4000))


class MessageIn(Schema):
    version = Int(required=True, metadata={"description": "La `version` de la demande lue."})
    text = Str(required=True, validate=validate.Length(min=1, max=4000))


class Enrolment(Schema):
    id = Int(required=True)
    activity = Str(required=True)
    activity_name = Str(required=True)
    foyer_id = Int(required=True)
    member_id = Int(required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    demande_id = Int(required=True, allow_none=True)
    created_at = fields.AwareDateTime(required=True)


class BookingOut(Schema):
    id = Int(required=True)
    activity = Str(required=True)
    day = fields.Date(required=True)
    foyer_id = Int(required=True)
    member_id = Int(required=True)
    state = Str(required=True)
    present = Bool(required=True, allow_none=True)
    updated_at = fields.AwareDateTime(required=True)


class InvoiceLineOut(Schema):
    member_id = Int(required=True)
    label = Str(required=True)
    unit = Str(required=True)
    quantity = Int(required=True)
    unit_price_cents = Int(required=True)
    amount_cents = Int(required=True)


class InvoiceOut(Schema):
    id = Int(required=True)
    number = Str(required=True)
    kind = Str(required=True)
    foyer_id = Int(required=True)
    month = fields.Date(required=True)
    band = Str(required=True)
    total_cents = Int(required=True)
    issued_at = fields.AwareDateTime(required=True)
    due_on = fields.Date(required=True)
    credits_invoice_id = Int(required=True, allow_none=True)
    lines = fields.List(fields.Nested(InvoiceLineOut), required=True)


class PaymentOut(Schema):
    id = Int(required=True)
    foyer_id = Int(required=True)
    method = Str(required=True)
    state = Str(required=True)
    amount_cents = Int(required=True)
    reference = Str(required=True)
    created_at = fields.AwareDateTime(required=True)
    settled_at = fields.AwareDateTime(required=True, allow_none=True)
    invoice_ids = fields.List(Int(), required=True)


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """A page of items and the cursor to the next page (null on the last)."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item), required=True),
            "next_cursor": Str(required=True, allow_none=True),
        },
        name=name,
    )


DemandesPage = page_of(DemandeSummary, "DemandesPage")
FoyersPage = page_of(FoyerOut, "FoyersPage")
EnrolmentsPage = page_of(Enrolment, "EnrolmentsPage")
BookingsPage = page_of(BookingOut, "BookingsPage")
InvoicesPage = page_of(InvoiceOut, "InvoicesPage")
PaymentsPage = page_of(PaymentOut, "PaymentsPage")


def problems(blp: Blueprint, *codes: int) -> Callable[[Any], Any]:
    """Document the problem documents (RFC 9457) an operation may answer."""

    def decorate(view: Any) -> Any:
        for code in codes:
            # The components registered per status carry the Problem schema (web.api.PortalApi).
            view = blp.alt_response(code, response=HTTPStatus(code).name)(view)
        return view

    return decorate
