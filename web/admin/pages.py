"""Every page of the administration: importing this module registers them on the blueprint."""

from web.admin import (  # noqa: F401
    agents,
    api_clients,
    designer,
    document_types,
    home,
    information,
    journal,
    organisation,
    outbox,
    procedures,
    tariffs,
    webhooks,
)
from web.admin.blueprint import bp

__all__ = ["bp"]
