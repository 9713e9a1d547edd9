"""Messaging's domain errors: `web/` maps each to an HTTP status and a French message."""

from __future__ import annotations

from enum import StrEnum


class MessagingError(Exception):
    """Base of the errors messaging raises on purpose."""


class ThreadNotFound(MessagingError):
    """No such thread for this foyer or these services (also when the caller may not know it)."""


class Refusal(StrEnum):
    """Why a message, or a new thread, is refused (the web says each in French)."""

    EMPTY = "empty"
    TOO_LONG = "too_long"
    NO_SUBJECT = "no_subject"
    SUBJECT_TOO_LONG = "subject_too_long"
    UNKNOWN_SERVICE = "unknown_service"
    UNKNOWN_DEMANDE = "unknown_demande"
    UNKNOWN_DOCUMENT = "unknown_document"
    DOCUMENT_NOT_SHAREABLE = "document_not_shareable"
    TOO_MANY_DOCUMENTS = "too_many_documents"


class MessageRefused(MessagingError):
    """The message or thread cannot be sent as it is; `refusal` says why."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal
