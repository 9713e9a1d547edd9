"""Every page of the families' space: importing this module registers them on the blueprint."""

from web.famille import account, demandes, deposit, documents, files, foyer, home, join, vault  # noqa: F401
from web.famille.blueprint import bp

__all__ = ["bp"]
