"""`flask` commands: database migrations, demo data and the worker."""

from __future__ import annotations

import dataclasses
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

import click
from alembic import command
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from coffre.inspection.two_d_doc import load_trust_list
from demo.seed import DEMO_PASSWORD, seed_demandes, seed_demo
from notifications.outbox import MailSettings
from procedures import catalogue
from procedures.deadlines import retention
from procedures.designer.importing import ImportResult, Reason, import_stream, service_codes
from web import schema
from web.cli.api import api_cli
from web.cli.checkpointing import anchoring_from
from web.cli.coffre import coffre_cli
from web.cli.facturation import facturation_cli
from web.cli.lottery import lottery_command
from web.links import absolute_url
from web.runtime import runtime
from worker.jobs import register_standard_jobs
from worker.loop import Worker

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
@click.option("--quiet", is_flag=True, help="Print nothing but warnings and errors (make run).")
def db_upgrade(revision: str, quiet: bool) -> None:
    """Migrate the database up to REVISION (default: the latest)."""
    if quiet:  # Alembic's INFO lines: one per migration, and two about the database's dialect
        logging.getLogger("alembic").setLevel(logging.WARNING)
    schema.upgrade(runtime().engine, revision)
    if not quiet:
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
        logins = seed_demo(session, rt.clock, rt.vault, rt.settings.base_url)
        published = catalogue.publish_built_ins(session, rt.clock)
        submitted = seed_demandes(session, rt.engine_context)
    for version in published:
        click.echo(f"Démarche publiée : {version.title} (version {version.version})")
    for number in submitted:
        click.echo(f"Demande déposée : {number} (calcul du quotient familial, famille Nguyen)")
    click.echo("\nComptes de démonstration (mot de passe commun : " + DEMO_PASSWORD + ")")
    for login in logins:
        click.echo(f"  {login.role:<15} {login.email:<40} {login.name}")
    if rt.settings.is_development:
        click.echo(
            "Agents et administrateurs : après le mot de passe, la page du code affiche le code "
            "du moment (mode développement : aucune application d'authentification à installer)."
        )
        with current_app.test_request_context():
            outbox_page = absolute_url("admin.courriels")
        click.echo(f"\nPortail : {rt.settings.base_url}")
        click.echo(f"Courriels de la démo (inscription, mot de passe, invitations) : {outbox_page}")
        if not rt.settings.smtp.host:
            click.echo("  (SMTP_HOST vide : rien ne part ; lisez-les là, en administrateur)")
    else:
        click.echo(
            "Agents et administrateurs : à la première connexion, ajoutez le compte à une "
            "application d'authentification (QR code affiché), puis saisissez ses codes à "
            "6 chiffres."
        )
    click.echo("")


@click.command("worker")
@with_appcontext
@click.option("--tick", default=1.0, show_default=True, help="Seconds between two rounds.")
def worker_command(tick: float) -> None:
    """Run the background worker until SIGTERM or Ctrl-C."""
    rt = runtime()
    worker = Worker(sessions=rt.sessions, clock=rt.clock, tick_seconds=tick)
    smtp = rt.settings.smtp
    mail = MailSettings(**dataclasses.asdict(smtp)) if smtp.host else None
    if mail is None:
        click.echo("SMTP_HOST is empty: e-mails stay queued in the outbox.")
    anchoring = anchoring_from(rt.settings, rt.store)
    if anchoring is None:
        click.echo("JOURNAL_KEY_FILE is not set: the journal is not checkpointed.")
    register_standard_jobs(
        worker, rt.vault, mail, rt.settings.base_url, anchoring, rt.settings.billing_day,
        secret_key=rt.settings.secret_key,
        inactive_account_days=rt.settings.inactive_account_days,
        two_d_doc=load_trust_list(rt.settings.two_d_doc_trust_store),
    )  # fmt: skip

    def _stop(signum: int, _frame: FrameType | None) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run_forever()
    sys.stdout.flush()


@click.group("procedures")
def procedures_cli() -> None:
    """The procedures' diagrams."""


@procedures_cli.command("check")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
def procedures_check(files: tuple[Path, ...]) -> None:
    """Check diagrams (default: the built-in catalogue); one line per problem, exit 1 if any."""
    targets = list(files) or [
        catalogue.BUILT_IN / f"{code}.bpmn" for code in catalogue.built_in_codes()
    ]
    failed = False
    for path in targets:
        problems = catalogue.check_files(path)
        for problem in problems:
            click.echo(f"{path.name}: {problem}")
        failed = failed or bool(problems)
        if not problems:
            click.echo(f"{path.name}: ok")
    if failed:
        raise SystemExit(1)


@procedures_cli.command("import")
@with_appcontext
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def procedures_import(files: tuple[Path, ...]) -> None:
    """Check .bpmn files made by other tools: one verdict line per file, `accepted FILE` or
    `refused FILE: reasons`; exit 0 when all are accepted, 1 when some are refused."""
    services = _known_services()
    refused = 0
    for path in files:
        result = _import_one(path, services)
        if result.accepted:
            _echo_accepted(path, result)
        else:
            refused += 1
            reasons = "; ".join(f"{r.code}: {' '.join(r.message.split())}" for r in result.reasons)
            click.echo(f"refused {path}: {reasons}")
    if len(files) > 1:
        click.echo(f"{len(files) - refused} accepted, {refused} refused")
    if refused:
        raise SystemExit(1)


def _import_one(path: Path, services: list[str] | None) -> ImportResult:
    if not path.is_file():
        reason = Reason("unreadable", f"{path.name} n'est pas un fichier lisible")
        return ImportResult(path.name, False, [reason])
    try:
        with path.open("rb") as stream:
            return import_stream(stream, filename=path.name, services=services)
    except OSError as exc:
        reason = Reason("unreadable", f"fichier illisible ({exc.strerror or type(exc).__name__})")
        return ImportResult(path.name, False, [reason])


def _known_services() -> list[str] | None:
    try:
        with runtime().sessions() as session:
            return service_codes(session)
    except SQLAlchemyError:
        click.echo("(base de données injoignable : couloirs non comparés aux services)", err=True)
        return None


def _echo_accepted(path: Path, result: ImportResult) -> None:
    click.echo(f"accepted {path}")
    for process in result.processes:
        lanes = ", ".join(f"« {lane.name or lane.id} »" for lane in process.lanes) or "aucun"
        click.echo(f"  processus « {process.name} » ; couloirs : {lanes}")
        click.echo(f"  tâches humaines : {len(process.user_tasks)}")
    for warning in result.warnings:
        click.echo(f"  à faire : {warning.message}")


@procedures_cli.command("retention")
@with_appcontext
@click.option("--dry-run", is_flag=True, help="List what the next pass erases, erase nothing.")
def procedures_retention(dry_run: bool) -> None:
    """Erase the closed demandes past their procedure's retention period (the worker does it
    every day): one line each, number, procedure, closing date and rule, nothing erased."""
    rt = runtime()
    with rt.sessions() as session:
        if dry_run:
            found = retention.due(session, rt.clock.now())
        else:
            found = retention.apply(session, rt.clock)
    for item in found:
        closed = item.closed_at.date().isoformat()
        click.echo(
            f"{item.number or item.demande_id}  {item.procedure_code}  fermée le {closed}"
            f"  conservée {item.retention_days} jours  {item.rule}"
        )
    verb = "à effacer au prochain passage" if dry_run else "effacée(s)"
    click.echo(f"{len(found)} demande(s) {verb}.")


def init_app(app: Flask) -> None:
    """Attach the commands to `flask`."""
    app.cli.add_command(db_cli)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(coffre_cli)
    procedures_cli.add_command(lottery_command)
    app.cli.add_command(procedures_cli)
    app.cli.add_command(facturation_cli)
    app.cli.add_command(api_cli)
