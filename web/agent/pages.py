"""Every page of the agents' back office: importing this module registers them on the blueprint."""

from web.agent import demande, demande_documents, guichet, home, inbox, supervision  # noqa: F401
from web.agent.blueprint import bp

__all__ = ["bp"]
