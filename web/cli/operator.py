"""`flask coffre deposit|read|destroy|metadata|exists|list|count` and `flask coffre journal read`.

The operator's acts of NF Z42-020, each journaled under the operator's name: `--operator NAME`,
or the name of the system user running the command. The work is `coffre.operator_acts`'s;
these commands parse, call it and print ids, dates, sizes and digests, never content or keys.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext

from coffre import operator_acts
from coffre.catalogue import UnknownDocumentType
from coffre.clock import local_today
from coffre.errors import VaultError
from coffre.inspection.uploads import UploadRefused
from coffre.journal.chain import entry_fields
from coffre.operator import Operator, OperatorRefused
from web.runtime import runtime

REFUSALS = (VaultError, UploadRefused, UnknownDocumentType)


def operator_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """The `--operator NAME` option every act takes, turned into an `Operator`."""
    return click.option(
        "--operator",
        "operator",
        metavar="NAME",
        callback=_operator,
        help="Who runs the command, as the journal names them (default: the system user).",
    )(command)


def _operator(_ctx: click.Context, _param: click.Parameter, name: str | None) -> Operator:
    if name is None:
        try:
            name = getpass.getuser()
        except (OSError, KeyError):
            raise click.BadParameter("the system user has no name: give --operator") from None
    try:
        return Operator(name)
    except OperatorRefused as exc:
        raise click.BadParameter(str(exc)) from None


@contextmanager
def refused() -> Iterator[None]:
    """Turn the vault's refusals into a one-line CLI error (exit 1); their messages hold ids."""
    try:
        yield
    except UploadRefused as exc:
        raise click.ClickException(f"refused ({exc.code}): {exc.message}") from None
    except UnknownDocumentType as exc:
        raise click.ClickException(f"unknown document type {exc}") from None
    except VaultError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("deposit")
@with_appcontext
@click.option("--foyer", "foyer_id", type=int, required=True, help="The foyer's id.")
@click.option("--type", "type_code", required=True, help="The document type's code.")
@click.option(
    "--issued-on",
    type=click.DateTime(["%Y-%m-%d"]),
    help="The document's issue date, YYYY-MM-DD (default: today): its validity counts from it.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@operator_option
def deposit(
    foyer_id: int, type_code: str, issued_on: datetime | None, file: Path, operator: Operator
) -> None:
    """Deposit FILE into a foyer's vault, checked and encrypted like any upload."""
    rt = runtime()
    day = issued_on.date() if issued_on else local_today(rt.clock)
    with refused(), rt.sessions() as session, file.open("rb") as stream:
        document = operator_acts.deposit(
            session, rt.vault, operator, foyer_id, type_code, file.name, stream, day
        )
        click.echo(
            f"Document {document.id} deposited in foyer {foyer_id}: {document.size} bytes, "
            f"sha256 {document.sha256}."
        )


@click.command("read")
@with_appcontext
@click.argument("document_id", type=int)
@click.option(
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write, created 0600; an existing file is refused.",
)
@click.option("--reason", required=True, help="Why it is read (journaled; no personal data).")
@operator_option
def read(document_id: int, output: Path, reason: str, operator: Operator) -> None:
    """Write a document's content in clear to --output, its read journaled with the reason."""
    if output.exists():
        raise click.ClickException(f"{output} exists: give a new file")
    if not output.parent.is_dir():
        raise click.ClickException(f"{output.parent} is not a directory")
    rt = runtime()
    partial = output.with_name(output.name + ".part")
    with refused(), rt.sessions() as session:
        opened = operator_acts.read(session, rt.vault, operator, document_id, reason)
        try:
            _write_private(partial, opened.chunks)
        except BaseException:
            partial.unlink(missing_ok=True)  # never leave a file that looks complete but is not
            raise
    partial.replace(output)
    click.echo(f"Document {document_id} written to {output} ({opened.document.size} bytes).")


def _write_private(path: Path, chunks: Iterator[bytes]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as sink:
        for chunk in chunks:
            sink.write(chunk)


@click.command("destroy")
@with_appcontext
@click.argument("document_id", type=int)
@click.option("--reason", required=True, help="Why it is destroyed (journaled; no personal data).")
@operator_option
def destroy(document_id: int, reason: str, operator: Operator) -> None:
    """Destroy a current document and its earlier versions (rows, then encrypted files)."""
    rt = runtime()
    with refused(), rt.sessions() as session:
        operator_acts.destroy(session, rt.vault, operator, document_id, reason)
    click.echo(f"Document {document_id} destroyed.")


@click.command("metadata")
@with_appcontext
@click.argument("document_id", type=int)
@operator_option
def metadata(document_id: int, operator: Operator) -> None:
    """Print a document's technical metadata (never its content, name or keys)."""
    rt = runtime()
    with refused(), rt.sessions() as session:
        found = operator_acts.metadata(session, rt.vault, operator, document_id)
    for label, value in _metadata_lines(found):
        click.echo(f"{label}: {value}")


def _metadata_lines(found: operator_acts.Metadata) -> list[tuple[str, object]]:
    return [
        ("id", found.id),
        ("foyer", found.foyer_id),
        ("type", found.type_code),
        ("state", found.state),
        ("depositor", found.depositor if found.depositor is not None else "-"),
        ("channel", found.channel),
        ("deposited at", found.deposited_at.isoformat()),
        ("size", found.size),
        ("hash algorithm", found.hash_algorithm),
        ("hash", found.hash_value),
        ("replaces", found.replaces_id if found.replaces_id is not None else "-"),
        ("superseded at", found.superseded_at.isoformat() if found.superseded_at else "-"),
    ]


@click.command("exists")
@with_appcontext
@click.argument("document_id", type=int)
@operator_option
def exists(document_id: int, operator: Operator) -> None:
    """Control one document: its encrypted file is in the store and decrypts to its digest."""
    rt = runtime()
    with refused(), rt.sessions() as session:
        outcome = operator_acts.control(session, rt.vault, operator, document_id)
    if not outcome.intact:
        click.echo(f"damaged: document {document_id}: {outcome.reason}")
        raise SystemExit(1)
    click.echo(f"document {document_id}: present and intact.")


@click.command("list")
@with_appcontext
@click.option("--foyer", "foyer_id", type=int, required=True, help="The foyer's id.")
@operator_option
def list_documents(foyer_id: int, operator: Operator) -> None:
    """List a foyer's documents, earlier versions included: id, type, state, size, digest."""
    rt = runtime()
    with refused(), rt.sessions() as session:
        found = operator_acts.documents(session, rt.vault, operator, foyer_id)
    for line in found:
        superseded = " superseded" if line.superseded_at else ""
        click.echo(
            f"{line.id}\t{line.type_code}\t{line.state}{superseded}\t{line.size}\t"
            f"{line.deposited_at.isoformat()}\tsha256:{line.hash_value}"
        )
    click.echo(f"{len(found)} documents in foyer {foyer_id}.")


@click.command("count")
@with_appcontext
@click.option("--foyer", "foyer_id", type=int, help="Only this foyer (default: every foyer).")
@operator_option
def count(foyer_id: int | None, operator: Operator) -> None:
    """Count documents (every version) and their bytes, per foyer."""
    rt = runtime()
    with refused(), rt.sessions() as session:
        counts = operator_acts.count(session, rt.vault, operator, foyer_id)
    for line in counts:
        click.echo(f"foyer {line.foyer_id}: {line.documents} documents, {line.size} bytes")
    if foyer_id is None:
        total = sum(line.documents for line in counts)
        click.echo(f"{total} documents in {len(counts)} foyers.")


@click.command("read")
@with_appcontext
@click.option("--foyer", "foyer_id", type=int, help="This foyer's chain (default: the system's).")
@operator_option
def journal_read(foyer_id: int | None, operator: Operator) -> None:
    """Print a chain of the journal, one entry a line, this read included."""
    rt = runtime()
    with refused(), rt.sessions() as session:
        for entry in operator_acts.read_journal(session, rt.vault, operator, foyer_id):
            fields = entry_fields(entry)
            click.echo(
                f"{entry.seq}\t{fields['at']}\t{entry.event}\tactor={_or_dash(entry.actor_id)}\t"
                f"document={_or_dash(entry.document_id)}\tdemande={_or_dash(entry.demande_id)}\t"
                f"{entry.details}\t{entry.hash}"
            )


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)


COMMANDS = [deposit, read, destroy, metadata, exists, list_documents, count]
