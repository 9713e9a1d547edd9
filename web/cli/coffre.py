"""`flask coffre ...`: the vault's upkeep (verify, sweep, keys, journal, export) and the
operator's acts (deposit, read, destroy, metadata, exists, list, count: `web.cli.operator`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from accounts import family
from coffre import keys
from coffre.antivirus import Scanner
from coffre.consent import FamilyReader
from coffre.errors import DocumentNotFound
from coffre.journal import anchoring
from coffre.journal import audit as journal_audit
from coffre.journal.signing_key import JournalKeyError, public_key_pem
from coffre.journal.timestamping import TimestampError
from coffre.keyring import add_key_version
from coffre.models import Document
from coffre.portability.export import export_chunks
from coffre.upkeep import maintenance, scanning
from web.cli.checkpointing import anchoring_from, auditor_from
from web.cli.operator import COMMANDS as OPERATOR_COMMANDS
from web.cli.operator import journal_read
from web.runtime import Runtime, load_keyring, runtime

T = TypeVar("T")

coffre_cli = AppGroup(
    "coffre", help="The families' vault: integrity, keys, journal, export, the operator's acts."
)
journal_cli = AppGroup("journal", help="The tamper-evident journal.")
coffre_cli.add_command(journal_cli)
for _command in OPERATOR_COMMANDS:  # the operator's acts (NF Z42-020), in their own module
    coffre_cli.add_command(_command)
journal_cli.add_command(journal_read)


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
        expired, queued = family.expiry_reminders(session, rt.clock, rt.settings.base_url)
    click.echo(f"{expired} documents expired, {queued} reminders queued.")


@coffre_cli.command("rescan")
@click.option("--dry-run", is_flag=True, help="Only list and count them.")
def rescan(dry_run: bool) -> None:
    """Scan the documents deposited while no antivirus was configured (the worker does it too,
    a batch every few seconds); they stay open to agents until their verdict."""
    rt = runtime()
    with rt.sessions() as session:
        waiting = session.scalars(scanning.not_scanned()).all()
        for document in waiting:
            deposited = document.deposited_at.date().isoformat()
            click.echo(
                f"not scanned: document {document.id} (foyer {document.foyer_id}, "
                f"{document.type_code}, deposited {deposited})"
            )
        click.echo(f"{len(waiting)} documents deposited without an antivirus scan.")
        if dry_run or not waiting:
            return
        scanner = rt.scanner
        if scanner is None:
            raise click.ClickException("CLAMD_SOCKET is not set: no antivirus to scan them with")
        judged = _rescan_all(session, rt, scanner)
        left = len(session.scalars(scanning.not_scanned()).all())
    click.echo(f"{judged} documents scanned, {left} left for the worker's next turns.")
    if left:
        raise SystemExit(1)


def _rescan_all(session: Session, rt: Runtime, scanner: Scanner) -> int:
    """Rescan batch after batch until none is left or a turn judges none (clamd away, or only
    damaged documents left); a quarantine is e-mailed to the family as the worker does."""

    def notify(s: Session, document: Document) -> int:
        return family.quarantine_notices(s, rt.clock, document, rt.settings.base_url)

    judged = 0
    while True:
        turn = scanning.rescan_not_scanned(session, rt.vault, scanner, notify)
        judged += turn.judged
        if turn.emptied or turn.judged == 0:
            return judged


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
    """Check every hash chain and compare it with the last signed checkpoint; exit 1 if altered."""
    rt = runtime()
    auditor = _journal_part(lambda: auditor_from(rt.settings, rt.store))
    with rt.sessions() as session:
        report = journal_audit.audit(session, auditor)
    for broken in report.broken:
        click.echo(f"broken: {broken}")
    for problem in report.problems:
        click.echo(str(problem))
    _print_anchoring(report)
    if not report.intact:
        raise SystemExit(1)
    click.echo("journal intact.")


def _print_anchoring(report: journal_audit.AuditReport) -> None:
    last = report.checkpoint
    if last is None:
        if report.unanchored:
            click.echo(f"not yet anchored: {report.unanchored} entries (no checkpoint yet).")
        return
    stamp = (
        f"timestamped {journal_audit.when(report.timestamped_at)}"
        if report.timestamped_at
        else "not timestamped"
    )
    click.echo(
        f"last checkpoint: {journal_audit.when(last.at)}, {len(last.heads)} chains, {stamp} "
        f"({last.key})."
    )
    if report.unanchored:
        click.echo(
            f"not yet anchored: {report.unanchored} entries since {journal_audit.when(last.at)}."
        )


@journal_cli.command("checkpoint")
def journal_checkpoint() -> None:
    """Sign every chain's head now and write it to the object store (the worker does it hourly)."""
    rt = runtime()
    signing = _journal_part(lambda: anchoring_from(rt.settings, rt.store))
    if signing is None:
        raise click.ClickException("JOURNAL_KEY_FILE is not set: this copy cannot sign checkpoints")
    try:
        with rt.sessions() as session:
            written = anchoring.write_checkpoint(session, rt.clock, signing)
    except anchoring.JournalTampered as exc:
        for problem in exc.problems:
            click.echo(str(problem))
        raise click.ClickException("the journal no longer matches its last checkpoint") from None
    assert written is not None  # only skip_unchanged skips
    checkpoint = written.checkpoint
    stamp = ", timestamped" if checkpoint.timestamp else ""
    click.echo(f"Checkpoint {checkpoint.key}: {len(checkpoint.heads)} chains{stamp}.")
    if written.timestamp_error:
        raise click.ClickException(f"written without a timestamp: {written.timestamp_error}")


@journal_cli.command("public-key")
def journal_public_key() -> None:
    """Print the checkpoints' public key (PEM), for an auditor's JOURNAL_PUBLIC_KEY_FILE."""
    rt = runtime()
    auditor = _journal_part(lambda: auditor_from(rt.settings, rt.store))
    click.echo(public_key_pem(auditor.public_key), nl=False)


def _journal_part(build: Callable[[], T]) -> T:
    """Build from the settings, turning an unusable key or TSA file into a clean CLI error."""
    try:
        return build()
    except (JournalKeyError, TimestampError) as exc:
        raise click.ClickException(str(exc)) from None


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
