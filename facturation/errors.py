"""What billing refuses, each with the French sentence an administrator or a parent reads."""

from __future__ import annotations


class BillingError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BillingNotFound(BillingError):
    """Not there, or not the caller's (HTTP 404)."""


class BillingRefused(BillingError):
    """Refused on purpose (HTTP 400 or 409)."""
