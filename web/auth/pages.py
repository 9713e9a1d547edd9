"""The pages of signing in and the accounts, registered on the blueprint when imported."""

from web.auth import account, franceconnect, inactivity, login, totp  # noqa: F401
from web.auth.blueprint import bp

__all__ = ["bp"]
