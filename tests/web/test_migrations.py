from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from coffre.db import Base, make_engine
from tests.conftest import PostgresServer, require
from web import schema

EXPECTED_TABLES = {
    "accounts",
    "agent_services",
    "entities",
    "foyer_members",
    "foyers",
    "services",
    "worker_heartbeats",
}


def _upgrade_then_downgrade(engine: Engine) -> None:
    schema.upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert tables >= EXPECTED_TABLES
    assert "alembic_version" in tables

    schema.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

    schema.upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES


@pytest.mark.postgres
def test_migrations_upgrade_and_downgrade_an_empty_postgresql_database(
    postgres: PostgresServer | None,
) -> None:
    if postgres is None:
        require("PostgreSQL is unreachable")
        return
    engine = make_engine(postgres.create_database())
    try:
        _upgrade_then_downgrade(engine)
    finally:
        engine.dispose()


def test_migrations_upgrade_and_downgrade_an_empty_sqlite_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        _upgrade_then_downgrade(engine)
    finally:
        engine.dispose()


def test_models_and_migrations_describe_the_same_schema(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)

    assert differences == []
