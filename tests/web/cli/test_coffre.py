"""The `flask coffre ...` operator commands, driven through the real CLI on a real app."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import stat
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from coffre import keys
from coffre.clock import FrozenClock
from coffre.journal import chain as journal
from coffre.keyring import Keyring, load_keyring_file
from coffre.models import Document, DocumentState, Foyer, JournalEntry, ScanState
from coffre.vault import DocumentDamaged, Vault
from tests.clamav import ClamdServer
from tests.coffre.conftest import deposit, make_foyer, pdf_of
from web import create_app
from web.runtime import Runtime, runtime
from web.settings import Settings


def run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=["coffre", *args])


def flip_a_byte(rt: Runtime, document: Document) -> None:
    with rt.store.open(document.blob_key) as blob:
        sealed = bytearray(blob.read())
    sealed[len(sealed) // 2] ^= 0x01
    rt.store.put(document.blob_key, io.BytesIO(bytes(sealed)))


@pytest.fixture
def rt(app: Flask) -> Runtime:
    return runtime(app)


@pytest.fixture
def session(rt: Runtime) -> Iterator[Session]:
    """The test's own session; each command opens another, as in production."""
    with rt.sessions() as opened:
        yield opened


@pytest.fixture
def foyers(app: Flask, session: Session, clock: FrozenClock) -> list[Foyer]:
    with app.app_context():
        return [make_foyer(session, clock, "Martin"), make_foyer(session, clock, "Nguyen")]


@pytest.fixture
def documents(app: Flask, rt: Runtime, session: Session, foyers: list[Foyer]) -> list[Document]:
    """Two documents in the first foyer, one in the second."""
    with app.app_context():
        vault = rt.vault
        return [
            deposit(vault, session, foyers[0], pdf_of(5000)),
            deposit(vault, session, foyers[0], pdf_of(6000)),
            deposit(vault, session, foyers[1], pdf_of(7000)),
        ]


def damaged_ids(output: str) -> set[int]:
    return {int(found) for found in re.findall(r"^damaged: document (\d+) ", output, re.M)}


@pytest.mark.usefixtures("documents")
def test_verify_of_an_intact_vault_exits_0_with_its_counts(app: Flask) -> None:
    result = run(app, "verify")

    assert result.exit_code == 0, result.output
    assert result.output == "3 documents checked, 0 damaged.\n"


def test_verify_names_exactly_the_damaged_documents_and_exits_1(
    app: Flask, rt: Runtime, documents: list[Document]
) -> None:
    flip_a_byte(rt, documents[0])
    rt.store.delete(documents[2].blob_key)

    result = run(app, "verify")

    assert result.exit_code == 1, result.output
    assert damaged_ids(result.output) == {documents[0].id, documents[2].id}
    assert result.output.endswith("3 documents checked, 2 damaged.\n")


def test_verify_of_one_foyer_looks_at_its_documents_only(
    app: Flask, rt: Runtime, foyers: list[Foyer], documents: list[Document]
) -> None:
    rt.store.delete(documents[2].blob_key)

    mine = run(app, "verify", "--foyer", str(foyers[0].id))
    theirs = run(app, "verify", "--foyer", str(foyers[1].id))

    assert (mine.exit_code, mine.output) == (0, "2 documents checked, 0 damaged.\n")
    assert theirs.exit_code == 1
    assert damaged_ids(theirs.output) == {documents[2].id}


@pytest.mark.usefixtures("documents")
def test_journal_verify_exits_0_on_an_intact_journal(app: Flask) -> None:
    result = run(app, "journal", "verify")

    assert (result.exit_code, result.output) == (
        0,
        "not yet anchored: 5 entries (no checkpoint yet).\njournal intact.\n",
    )


def test_journal_verify_names_the_first_broken_entry_and_exits_1(
    app: Flask, session: Session, foyers: list[Foyer], documents: list[Document]
) -> None:
    chain = journal.chain_of(foyers[0].id)
    target = session.scalars(
        select(JournalEntry).where(JournalEntry.chain == chain, JournalEntry.seq == 2)
    ).one()
    session.execute(update(JournalEntry).where(JournalEntry.id == target.id).values(actor_id=99))
    session.commit()

    result = run(app, "journal", "verify")

    assert result.exit_code == 1
    assert result.output.startswith(f"broken: chain {chain}: entry 2 (id {target.id}): modified\n")


def test_rotate_kek_with_a_new_key_adds_a_version_and_rewraps(
    app: Flask, rt: Runtime, session: Session, documents: list[Document]
) -> None:
    key_file = rt.settings.master_key_file
    assert key_file is not None
    assert load_keyring_file(key_file).current_version == 1

    result = run(app, "rotate-kek", "--new-key")

    assert result.exit_code == 0, result.output
    assert sorted(load_keyring_file(key_file).keys) == [1, 2]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "2 foyer keys rewrapped under master key version 2." in result.output
    assert "  version 1: 0 foyer keys (in keyring)" in result.output
    assert "  version 2: 2 foyer keys (in keyring)" in result.output
    assert keys.versions_in_use(session) == {2: 2}
    retired = Keyring(keys={2: rt.keyring.key(2)}, source="version 2 only")
    with app.app_context(), rt.sessions() as fresh:
        vault = Vault(rt.store, retired, rt.vault.clock)
        assert b"".join(vault.plaintext(fresh, documents[2])) == pdf_of(7000)


def test_rotate_kek_without_a_new_key_has_nothing_to_rewrap(
    app: Flask, documents: list[Document]
) -> None:
    result = run(app, "rotate-kek")

    assert result.exit_code == 0, result.output
    assert "0 foyer keys rewrapped under master key version 1." in result.output


@pytest.mark.usefixtures("documents")
def test_key_status_counts_foyer_keys_per_version(app: Flask) -> None:
    result = run(app, "key-status")

    assert (result.exit_code, result.output) == (0, "  version 1: 2 foyer keys (in keyring)\n")


def test_export_writes_a_complete_zip_and_no_part_file(
    app: Flask, foyers: list[Foyer], documents: list[Document], tmp_path: Path
) -> None:
    output = tmp_path / "exports" / "martin.zip"
    output.parent.mkdir()

    result = run(app, "export", str(foyers[0].id), str(output))

    assert result.exit_code == 0, result.output
    assert result.output == f"Vault of foyer {foyers[0].id} written to {output}.\n"
    assert sorted(path.name for path in output.parent.iterdir()) == ["martin.zip"]
    with zipfile.ZipFile(output) as archive:
        assert archive.testzip() is None
        contents = {name: archive.read(name) for name in archive.namelist()}
    assert {contents[f"documents/{document.id}-facture.pdf"] for document in documents[:2]} == {
        pdf_of(5000),
        pdf_of(6000),
    }
    assert len(contents) == 4


def test_failed_export_leaves_neither_zip_nor_part_file(
    app: Flask, rt: Runtime, foyers: list[Foyer], documents: list[Document], tmp_path: Path
) -> None:
    rt.store.delete(documents[1].blob_key)
    output = tmp_path / "exports" / "martin.zip"
    output.parent.mkdir()

    result = run(app, "export", str(foyers[0].id), str(output))

    assert result.exit_code == 1
    assert isinstance(result.exception, DocumentDamaged)
    assert list(output.parent.iterdir()) == []


def test_sweep_prints_how_many_orphans_it_removed(
    app: Flask, rt: Runtime, clock: FrozenClock, foyers: list[Foyer]
) -> None:
    old = int((clock.now() - timedelta(hours=2)).timestamp() * 1000)
    orphan = f"documents/{foyers[0].id}/{old:012x}{os.urandom(10).hex()}"
    rt.store.put(orphan, io.BytesIO(b"left by an interrupted deposit"))

    first, second = run(app, "sweep"), run(app, "sweep")

    assert (first.exit_code, first.output) == (0, "1 orphan blobs removed.\n")
    assert second.output == "0 orphan blobs removed.\n"
    assert not rt.store.exists(orphan)


def test_expire_prints_expired_and_reminded_counts(
    app: Flask, rt: Runtime, session: Session, clock: FrozenClock, foyers: list[Foyer]
) -> None:
    with app.app_context():
        old = deposit(rt.vault, session, foyers[0], pdf_of(1000), issued_on=date(2026, 5, 1))
        deposit(rt.vault, session, foyers[0], pdf_of(1100), issued_on=date(2026, 6, 20))
    clock.advance(timedelta(days=1))

    first, second = run(app, "expire"), run(app, "expire")

    # The foyers here have no family account, so there is nobody to e-mail.
    assert (first.exit_code, first.output) == (0, "1 documents expired, 0 reminders queued.\n")
    assert second.output == "0 documents expired, 0 reminders queued.\n"
    session.refresh(old)
    assert old.state is DocumentState.EXPIRE


def test_export_of_an_unknown_foyer_fails_cleanly(app: Flask, tmp_path: Path) -> None:
    output = tmp_path / "none.zip"

    result = app.test_cli_runner().invoke(args=["coffre", "export", "999999", str(output)])

    assert result.exit_code == 1
    assert "no foyer 999999" in result.output
    assert not output.exists() and not output.with_name("none.zip.part").exists()


def test_rescan_dry_run_lists_the_documents_deposited_without_a_scan(
    app: Flask, session: Session, documents: list[Document]
) -> None:
    result = run(app, "rescan", "--dry-run")

    assert result.exit_code == 0, result.output
    listed = re.findall(r"^not scanned: document (\d+) \(foyer", result.output, re.M)
    assert [int(found) for found in listed] == [document.id for document in documents]
    assert result.output.endswith("3 documents deposited without an antivirus scan.\n")
    session.expire_all()
    assert {d.scan_state for d in session.scalars(select(Document))} == {ScanState.NOT_SCANNED}


@pytest.mark.usefixtures("documents")
def test_rescan_without_a_scanner_says_so_and_exits_1(app: Flask) -> None:
    result = run(app, "rescan")

    assert result.exit_code == 1
    assert "CLAMD_SOCKET is not set" in result.output


def test_rescan_scans_them_all_with_the_configured_clamd(
    settings: Settings,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    clamd: ClamdServer,
    session: Session,
    documents: list[Document],
) -> None:
    scanning = create_app(
        dataclasses.replace(settings, clamd_socket=clamd.socket_path), clock=clock
    )
    runtime(scanning).sessions = sessions
    try:
        result = run(scanning, "rescan")
        again = run(scanning, "rescan")
    finally:
        runtime(scanning).engine.dispose()

    assert result.exit_code == 0, result.output
    assert result.output.endswith("3 documents scanned, 0 left for the worker's next turns.\n")
    session.expire_all()
    assert {d.scan_state for d in session.scalars(select(Document))} == {ScanState.CLEAN}
    assert again.output == "0 documents deposited without an antivirus scan.\n"
