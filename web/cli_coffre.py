"""`flask coffre ...`: the vault's operator commands (verify, sweep, keys, journal, export)."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from coffre import journal, keys, maintenance
from coffre.consent import FamilyReader
from coffre.errors import DocumentNotFound
from coffre.export import export_chunks
from coffre.keyring import add_key_version
from procedures import notifications
from web.runtime import load_keyring, runtime

coffre_cli = AppGroup("coffre", help="The families' vault: integrity, keys, journal, export.")
journal_cli = AppGroup("journal", help="The tamper-evident journal.")
coffre_cli.add_command(journal_cli)


@coffre_cli.command("verify")
@click.option("--foyer", "foyer_id", type=int, help="Only this foyer's documents.")
def verify(foyer_id: int | None) -> None:
    """Re-read every document, check every tag and digest; list each damaged one."""
    rt = runtime()
    with rt.sessions() as session:
        report = maintenance.verify_blobs(session, rt.vault, foyer_id)
    for damage in report.damaged:
        click.echo(
            f"damaged: document {damage.document_id} (foyer {damage.foyer_id}): {damage.reason}"
        )
    click.echo(f"{report.checked} documents checked, {len(report.damaged)} damaged.")
    if report.damaged:
        raise SystemExit(1)


@coffre_cli.command("sweep")
def sweep() -> None:
    """Remove blobs left without a document row for more than an hour (interrupted deposits)."""
    rt = runtime()
    with rt.sessions() as session:
        removed = maintenance.sweep_orphans(session, rt.vault)
    click.echo(f"{len(removed)} orphan blobs removed.")


@coffre_cli.command("expire")
def expire() -> None:
    """Expire documents past their validity and queue reminders now (the worker does it daily)."""
    rt = runtime()
    with rt.sessions() as session:
        expired, queued = notifications.expiry_reminders(session, rt.clock, rt.settings.base_url)
    click.echo(f"{expired} documents expired, {queued} reminders queued.")


@coffre_cli.command("rotate-kek")
@click.option("--new-key", is_flag=True, help="First add a new version to MASTER_KEY_FILE.")
def rotate_kek(new_key: bool) -> None:
    """Rewrap every foyer's data key under the newest master key (documents untouched)."""
    rt = runtime()
    if new_key:
        if rt.settings.master_key_file is None:
            raise click.ClickException("--new-key needs MASTER_KEY_FILE (MASTER_KEYS is read-only)")
        version = add_key_version(rt.settings.master_key_file)
        rt.keyring = load_keyring(rt.settings)
        click.echo(f"Master key version {version} added to {rt.settings.master_key_file}.")
    with rt.sessions() as session:
        count = keys.rotate_kek(session, rt.keyring, rt.clock)
        in_use = keys.versions_in_use(session)
    click.echo(
        f"{count} foyer keys rewrapped under master key version {rt.keyring.current_version}."
    )
    _print_versions(in_use, rt.keyring.keys)


@coffre_cli.command("key-status")
def key_status() -> None:
    """How many foyer keys each master key version wraps (a version at 0 may be retired)."""
    rt = runtime()
    with rt.sessions() as session:
        _print_versions(keys.versions_in_use(session), rt.keyring.keys)


def _print_versions(in_use: dict[int, int], live: dict[int, bytes]) -> None:
    for version in sorted(set(in_use) | set(live)):
        state = "in keyring" if version in live else "MISSING from keyring"
        click.echo(f"  version {version}: {in_use.get(version, 0)} foyer keys ({state})")


@journal_cli.command("verify")
def journal_verify() -> None:
    """Check every hash chain; name the first broken entry of each."""
    with runtime().sessions() as session:
        problems = journal.verify(session)
    for problem in problems:
        click.echo(f"broken: {problem}")
    if problems:
        raise SystemExit(1)
    click.echo("journal intact.")


@coffre_cli.command("export")
@click.argument("foyer_id", type=int)
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
def export(foyer_id: int, output: Path) -> None:
    """Write a foyer's whole vault as a ZIP (documents in clear, manifest, journal)."""
    rt = runtime()
    partial = output.with_name(output.name + ".part")
    try:
        with rt.sessions() as session, partial.open("wb") as sink:
            for chunk in export_chunks(session, rt.vault, FamilyReader(None, foyer_id)):
                sink.write(chunk)
    except DocumentNotFound:
        partial.unlink(missing_ok=True)
        raise click.ClickException(f"no foyer {foyer_id}") from None
    except BaseException:
        partial.unlink(missing_ok=True)  # never leave a ZIP that looks complete but is not
        raise
    partial.replace(output)
    click.echo(f"Vault of foyer {foyer_id} written to {output}.")
