"""Agent pages: demande (being built)."""

from __future__ import annotations

from web.agent import bp  # noqa: F401
