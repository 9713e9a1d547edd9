"""Every page of the administration: importing this module registers them on the blueprint."""

from web.admin import agents, designer, document_types, home, journal, organisation, procedures  # noqa: F401
from web.admin.blueprint import bp

__all__ = ["bp"]
