"""`flask` commands: database migrations, demo data and the worker."""

from __future__ import annotations

import signal
import sys
from types import FrameType

import click
from alembic import command
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from procedures.demo import DEMO_PASSWORD, seed_demo
from procedures.worker import Worker
from web import schema
from web.cli_coffre import coffre_cli
from web.runtime import runtime

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: the latest)."""
    schema.upgrade(runtime().engine, revision)
    click.echo(f"Database at revision {revision}.")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION ("base" removes every table)."""
    schema.downgrade(runtime().engine, revision)
    click.echo(f"Database at revision {revision}.")


@db_cli.command("current")
def db_current() -> None:
    """Print the database's current revision."""
    command.current(schema.alembic_config(runtime().engine))


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Autogenerate a migration from the models (read and edit it before committing)."""
    command.revision(schema.alembic_config(runtime().engine), message=message, autogenerate=True)


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Create the demo town, agents and families (idempotent) and print their logins."""
    rt = runtime()
    if rt.settings.is_production:
        raise click.ClickException("the demo data is refused when ENV=production")
    with rt.sessions() as session:
        logins = seed_demo(session, rt.clock, rt.vault)
    click.echo("\nComptes de démonstration (mot de passe commun : " + DEMO_PASSWORD + ")")
    for login in logins:
        click.echo(f"  {login.role:<15} {login.email:<40} {login.name}")
    click.echo("")


@click.command("worker")
@with_appcontext
@click.option("--tick", default=1.0, show_default=True, help="Seconds between two rounds.")
def worker_command(tick: float) -> None:
    """Run the background worker until SIGTERM or Ctrl-C."""
    rt = runtime()
    worker = Worker(sessions=rt.sessions, clock=rt.clock, tick_seconds=tick)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run_forever()
    sys.stdout.flush()


def init_app(app: Flask) -> None:
    """Attach the commands to `flask`."""
    app.cli.add_command(db_cli)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(coffre_cli)
