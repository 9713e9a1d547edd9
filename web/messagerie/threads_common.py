"""What both spaces' message pages share: the French refusals, the links of the e-mails,
the ids a form sent, and the unread count the navigation shows."""

from __future__ import annotations

from flask import Flask, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from accounts.models import Role
from messagerie import reading
from messagerie.errors import Refusal
from messagerie.notices import Links
from messagerie.threads import BODY_MAX, DOCUMENTS_MAX, SUBJECT_MAX
from procedures.tasks import AgentActor
from web.links import id_link
from web.runtime import db, runtime

REFUSALS = {
    Refusal.EMPTY: _l("Write your message before sending it."),
    Refusal.TOO_LONG: _l("Your message is too long: %(max)s characters at most.", max=BODY_MAX),
    Refusal.NO_SUBJECT: _l("Give your message a subject."),
    Refusal.SUBJECT_TOO_LONG: _l(
        "The subject is too long: %(max)s characters at most.", max=SUBJECT_MAX
    ),
    Refusal.UNKNOWN_SERVICE: _l("Choose the service you are writing to."),
    Refusal.UNKNOWN_DEMANDE: _l("This request is not one of your household's."),
    Refusal.UNKNOWN_DOCUMENT: _l("This document is not in your safe."),
    Refusal.DOCUMENT_NOT_SHAREABLE: _l(
        "A replaced or expired document cannot be shared: choose its current version."
    ),
    Refusal.TOO_MANY_DOCUMENTS: _l("%(max)s documents at most per message.", max=DOCUMENTS_MAX),
}


def thread_links() -> Links:
    """The threads' public addresses in each space, from BASE_URL (for the e-mails)."""
    base = runtime().settings.base_url
    family = id_link("messages_famille.fil", "thread_id")
    agent = id_link("messages_agent.fil", "thread_id")
    return Links(family=lambda i: base + family(i), agent=lambda i: base + agent(i))


def chosen_ids(field: str) -> list[int]:
    """The ids a form's checkboxes sent (anything else is ignored)."""
    values = request.form.getlist(field)
    return [int(v) for v in values if v.isascii() and v.isdigit() and len(v) <= 10]


def unread_messages() -> int:
    """For the navigation: the logged-in side's unread messages (0 for anyone else)."""
    if not current_user.is_authenticated:
        return 0
    if current_user.role is Role.FAMILLE and current_user.foyer_id is not None:
        return reading.family_unread(db(), current_user.foyer_id)
    if current_user.role is Role.AGENT and current_user.service_ids:
        agent = AgentActor(account_id=current_user.id, service_ids=current_user.service_ids)
        return reading.service_unread(db(), agent)
    return 0


def init_app(app: Flask) -> None:
    """Give every template the navigation's unread count (computed only when shown)."""
    app.context_processor(lambda: {"unread_messages": unread_messages})
