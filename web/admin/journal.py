"""The administrative journal's page: who changed what, and the state before and after."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_babel import gettext as _
from flask_login import current_user

from accounts import organisation
from accounts.models import Role
from interop.webhooks import EVENTS
from web.admin.blueprint import bp
from web.auth.guard import role_required
from web.runtime import db


def _action_labels() -> dict[str, str]:
    return {
        "entity.created": _("Entity created"),
        "entity.renamed": _("Entity renamed"),
        "service.created": _("Service created"),
        "service.renamed": _("Service renamed"),
        "service.counter_changed": _("Counter right changed"),
        "agent.invited": _("Agent invited"),
        "agent.invitation_resent": _("Invitation sent again"),
        "agent.invitation_cancelled": _("Invitation cancelled"),
        "agent.services_changed": _("Agent's services changed"),
        "agent.second_factor_reset": _("Second factor reset"),
        "agent.deactivated": _("Agent deactivated"),
        "agent.reactivated": _("Agent reactivated"),
        "document_type.changed": _("Document type rules changed"),
        "document_type.restored": _("Document type rules restored"),
        "procedure_draft_created": _("Procedure draft created"),
        "procedure_draft_discarded": _("Procedure draft discarded"),
        "procedure_published": _("Procedure published"),
        "procedure_republished": _("Earlier version of a procedure published again"),
        "api_client.created": _("API client created"),
        "api_client.revoked": _("API client revoked"),
        "webhook.created": _("Webhook created"),
        "webhook.paused": _("Webhook paused"),
        "webhook.resumed": _("Webhook resumed"),
        "webhook.secret_rotated": _("Webhook secret renewed"),
        "information.published": _("Information for families published"),
    }


def _target_labels() -> dict[str, str]:
    """What a line is about, as its hint names it (then the object's number or code)."""
    return {
        "entity": _("entity"),
        "service": _("service"),
        "agent": _("agent"),
        "document_type": _("document type"),
        "api_client": _("API client"),
        "webhook": _("webhook"),
        "procedure": _("procedure"),
        "information": _("information version"),
    }


def _field_labels() -> dict[str, str]:
    return {
        "name": _("name"),
        "slug": _("identifier"),
        "code": _("code"),
        "entity_id": _("entity no."),
        "email": _("e-mail"),
        "display_name": _("name"),
        "services": _("services"),
        "second_factor": _("second factor enrolled"),
        "active": _("active"),
        "released_tasks": _("tasks given back to the queue"),
        "validity": _("validity"),
        "months": _("months"),
        "reusable": _("reusable"),
        "formats": _("formats"),
        "runs_counter": _("runs the counter"),
        "client_id": _("client identifier"),
        "scopes": _("rights"),
        "url": _("address"),
        "events": _("events"),
        "version": _("version"),
        "title": _("title"),
        "draft": _("draft"),
    }


def _value(value: Any) -> str:
    words = {
        True: _("yes"),
        False: _("no"),
        "agent": _("agent"),
        "supervisor": _("supervisor"),
        "months": _("a number of months"),
        "end_of_next_year": _("until the end of the next year"),
        "unlimited": _("unlimited"),
        "empty": _("empty"),
        "saved": _("saved"),
    }
    if isinstance(value, str) and value in EVENTS:  # a webhook's events
        return EVENTS[value]
    if isinstance(value, dict):
        return ", ".join(f"{key} ({_value(item)})" for key, item in value.items()) or "—"
    if isinstance(value, list):
        return ", ".join(_value(item) for item in value) or "—"
    if isinstance(value, bool | str) and value in words:
        return words[value]
    return str(value)


def describe(state: dict[str, Any] | None) -> list[str]:
    """A journaled state as lines a reader understands: « services : ecoles (agent) »."""
    if state is None:
        return []
    labels = _field_labels()
    return [f"{labels.get(key, key)} : {_value(value)}" for key, value in state.items()]


@bp.get("/journal")
@role_required(Role.ADMIN)
def journal() -> str:
    return render_template(
        "admin/journal.html",
        lines=organisation.journal(db(), current_user.id),
        actions=_action_labels(),
        targets=_target_labels(),
        describe=describe,
    )
