"""Alembic, driven from code: the migrations are the only source of the schema."""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(bind: Engine | Connection) -> Config:
    """An Alembic configuration that runs on the given engine or connection.

    Its messages (`flask db current`...) go to the stdout of the moment, not the one Alembic
    saw when it was imported: a command's output can then be captured or redirected.
    """
    config = Config(stdout=sys.stdout)
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["bind"] = bind
    return config


def upgrade(bind: Engine | Connection, revision: str = "head") -> None:
    """Migrate the database up to a revision."""
    command.upgrade(alembic_config(bind), revision)


def downgrade(bind: Engine | Connection, revision: str) -> None:
    """Migrate the database down to a revision ("base" empties it)."""
    command.downgrade(alembic_config(bind), revision)
