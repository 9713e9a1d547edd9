"""The errors of bookings: each carries the French sentence a parent or an agent reads."""

from __future__ import annotations


class BookingError(Exception):
    """A booking refused on purpose; `message` says why, in French."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BookingNotFound(BookingError):
    """No such session, child or booking among those the actor may see (HTTP 404)."""


class BookingRefused(BookingError):
    """The rules refuse the change: not enrolled, closed day, past the cut-off (HTTP 409)."""
