"""Vault: what a document's 2D-Doc says, and whether its signature verified

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 07:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
