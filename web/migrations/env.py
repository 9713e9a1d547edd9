"""Alembic environment: runs on the engine or connection handed over by web.schema."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine

import accounts.models
import coffre.catalogue
import coffre.models
import interop.models
import messagerie.models
import messagerie.news_models
import notifications.models
import procedures.models
import reservations.models
import worker.models
from coffre.db import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    bind = config.attributes["bind"]
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            _run(connection)
            connection.commit()
    else:
        _run(bind)


assert coffre.models and procedures.models  # imported for their tables
assert coffre.catalogue and accounts.models  # imported for their tables
assert notifications.models and worker.models  # imported for their tables
assert reservations.models  # imported for its tables
assert interop.models  # imported for its tables
assert messagerie.models  # imported for its tables
assert messagerie.news_models  # imported for its tables
run_migrations_online()
