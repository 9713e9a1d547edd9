"""Every page of the agents' back office: importing this module registers them on the blueprint."""

from web.agent import (  # noqa: F401
    activities,
    attendance,
    care_plans,
    custody,
    demande,
    demande_documents,
    guichet,
    home,
    inbox,
    lottery,
    supervision,
)
from web.agent.blueprint import bp

__all__ = ["bp"]
