"""Foyers: the household's phone number, set by a change of situation said once

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07 13:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A plain ALTER TABLE on both databases: a batch operation would rebuild `foyers` on SQLite,
# which the rows of every table referring to it forbid while foreign keys are enforced.
def upgrade() -> None:
    op.add_column("foyers", sa.Column("phone", sa.String(length=30), nullable=True))


def downgrade() -> None:
    op.drop_column("foyers", "phone")
