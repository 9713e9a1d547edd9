"""Every page of the families' space: importing this module registers them on the blueprint."""

from web.famille import (  # noqa: F401
    account,
    billing,
    demandes,
    deposit,
    documents,
    files,
    foyer,
    home,
    information,
    join,
    journal,
    reservations,
    vault,
)
from web.famille.blueprint import bp

__all__ = ["bp"]
