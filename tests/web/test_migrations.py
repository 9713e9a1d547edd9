from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

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


def _tasks_take_their_demande_s_version(engine: Engine) -> None:
    """0024: tasks written before it carry their demande's procedure version after it."""
    schema.upgrade(engine, "0023")
    now = datetime(2026, 9, 1, 8, tzinfo=UTC)
    with engine.begin() as connection:
        for version in (1, 2):
            connection.execute(
                text(
                    "INSERT INTO procedure_versions (id, code, version, title, metadata_json,"
                    " bpmn_xml, dmn_xml, published_at, is_current) VALUES (:id, 'creche', :id,"
                    " 'Crèche', '{}', '', '', :now, :current)"
                ),
                {"id": version, "now": now, "current": version == 2},
            )
        connection.execute(
            text("INSERT INTO foyers (id, label, address_line, postal_code, city, created_at)"
                 " VALUES (1, 'Famille', '', '', '', :now)"),
            {"now": now},
        )  # fmt: skip
        for demande, version in ((1, 1), (2, 2)):
            connection.execute(
                text(
                    "INSERT INTO demandes (id, foyer_id, procedure_version_id, status, form_data,"
                    " created_at, updated_at, row_version) VALUES (:id, 1, :version,"
                    " 'deposee', '{}', :now, :now, 1)"
                ),
                {"id": demande, "version": version, "now": now},
            )
            for task in (2 * demande, 2 * demande + 1):
                connection.execute(
                    text(
                        "INSERT INTO tasks (id, demande_id, spiff_task_id, spec_id, title,"
                        " for_family, state, created_at, row_version) VALUES (:id, :demande,"
                        " 't', 'verifier_dossier', 'Vérifier', false, 'done', :now, 1)"
                    ),
                    {"id": task, "demande": demande, "now": now},
                )
    schema.upgrade(engine)
    with engine.connect() as connection:
        carried = connection.execute(
            text("SELECT id, procedure_version_id FROM tasks ORDER BY id")
        ).all()
    assert [tuple(row) for row in carried] == [(2, 1), (3, 1), (4, 2), (5, 2)]
    schema.downgrade(engine, "0023")
    assert "procedure_version_id" not in {c["name"] for c in inspect(engine).get_columns("tasks")}


def test_the_tasks_migration_carries_each_demande_s_version_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'carried.db'}")
    try:
        _tasks_take_their_demande_s_version(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_tasks_migration_carries_each_demande_s_version_on_postgresql(
    postgres: PostgresServer | None,
) -> None:
    if postgres is None:
        require("PostgreSQL is unreachable")
        return
    engine = make_engine(postgres.create_database())
    try:
        _tasks_take_their_demande_s_version(engine)
    finally:
        engine.dispose()
