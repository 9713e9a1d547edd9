"""The operator's acts (`flask coffre deposit|read|destroy|metadata|exists|list|count`,
`flask coffre journal read`), each through the real CLI, and the journal entry each leaves."""

from __future__ import annotations

import getpass
import io
import json
import stat
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from coffre.clock import FrozenClock
from coffre.journal import chain as journal
from coffre.models import Channel, Document, DocumentRead, Foyer, JournalEntry
from tests.coffre.conftest import deposit, make_foyer, pdf_of
from web.runtime import Runtime, runtime


def run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=["coffre", *args])


def entries(session: Session, foyer_id: int | None) -> list[JournalEntry]:
    session.expire_all()
    chain = journal.chain_of(foyer_id)
    query = select(JournalEntry).where(JournalEntry.chain == chain).order_by(JournalEntry.seq)
    return list(session.scalars(query))


def last(session: Session, foyer_id: int | None) -> tuple[str, int | None, dict[str, object]]:
    entry = entries(session, foyer_id)[-1]
    return entry.event, entry.document_id, json.loads(entry.details)


@pytest.fixture
def rt(app: Flask) -> Runtime:
    return runtime(app)


@pytest.fixture
def session(rt: Runtime) -> Iterator[Session]:
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
        return [
            deposit(rt.vault, session, foyers[0], pdf_of(5000)),
            deposit(rt.vault, session, foyers[0], pdf_of(6000)),
            deposit(rt.vault, session, foyers[1], pdf_of(7000)),
        ]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty directory for the files the commands write."""
    path = tmp_path / "out"
    path.mkdir()
    return path


@pytest.fixture
def scan(tmp_path: Path) -> Path:
    path = tmp_path / "avis.pdf"
    path.write_bytes(pdf_of(4000))
    return path


def test_deposit_stores_the_file_as_the_town_and_journals_the_operator(
    app: Flask, rt: Runtime, session: Session, foyers: list[Foyer], scan: Path
) -> None:
    result = run(
        app, "deposit", "--foyer", str(foyers[0].id), "--type", "avis_imposition",
        "--issued-on", "2026-04-15", "--operator", "alice", str(scan),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    document = session.scalars(select(Document)).one()
    assert result.output == (
        f"Document {document.id} deposited in foyer {foyers[0].id}: 4000 bytes, "
        f"sha256 {document.sha256}.\n"
    )
    assert (document.channel, document.issued_on) == (Channel.MAIRIE, date(2026, 4, 15))
    assert b"".join(rt.vault.plaintext(session, document)) == pdf_of(4000)
    assert last(session, foyers[0].id) == (
        "document.deposited",
        document.id,
        {"type": "avis_imposition", "channel": "mairie", "operator": "alice"},
    )


@pytest.mark.parametrize(
    ("foyer", "type_code", "message"),
    [
        ("999999", "avis_imposition", "Error: foyer 999999 does not exist\n"),
        (None, "passeport_martien", "Error: unknown document type passeport_martien\n"),
    ],
)
def test_deposit_with_an_unknown_foyer_or_type_writes_nothing(
    app: Flask,
    rt: Runtime,
    session: Session,
    foyers: list[Foyer],
    scan: Path,
    foyer: str | None,
    type_code: str,
    message: str,
) -> None:
    result = run(
        app, "deposit", "--foyer", foyer or str(foyers[0].id), "--type", type_code, str(scan)
    )

    assert (result.exit_code, result.output) == (1, message)
    assert session.scalars(select(Document)).all() == []
    assert list(rt.store.keys("documents/")) == []
    assert entries(session, foyers[0].id) == []


def test_deposit_of_a_missing_or_refused_file_writes_nothing(
    app: Flask, rt: Runtime, session: Session, foyers: list[Foyer], tmp_path: Path
) -> None:
    text = tmp_path / "notes.pdf"
    text.write_bytes(b"not a PDF at all\n" * 100)
    foyer = str(foyers[0].id)

    missing = run(app, "deposit", "--foyer", foyer, "--type", "rib", str(tmp_path / "none.pdf"))
    refused = run(app, "deposit", "--foyer", foyer, "--type", "rib", str(text))

    assert missing.exit_code == 2 and "does not exist" in missing.output
    assert refused.exit_code == 1 and refused.output.startswith("Error: refused (")
    assert session.scalars(select(Document)).all() == []
    assert list(rt.store.keys("documents/")) == []
    assert entries(session, foyers[0].id) == []


def test_read_writes_the_content_0600_and_journals_operator_and_reason(
    app: Flask, session: Session, foyers: list[Foyer], documents: list[Document], out: Path
) -> None:
    output = out / "copie.pdf"

    result = run(
        app, "read", str(documents[1].id), "--output", str(output),
        "--reason", "réquisition judiciaire 2026-17", "--operator", "alice",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.output == f"Document {documents[1].id} written to {output} (6000 bytes).\n"
    assert output.read_bytes() == pdf_of(6000)
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert sorted(p.name for p in out.iterdir()) == ["copie.pdf"]
    read = session.scalars(select(DocumentRead)).one()
    assert (read.document_id, read.reader_id, read.purpose) == (documents[1].id, None, "exploitant")
    assert last(session, foyers[0].id) == (
        "document.read",
        documents[1].id,
        {
            "purpose": "exploitant",
            "service": None,
            "operator": "alice",
            "reason": "réquisition judiciaire 2026-17",
        },
    )


def test_read_refused_for_bad_input_reads_and_journals_nothing(
    app: Flask, session: Session, foyers: list[Foyer], documents: list[Document], out: Path
) -> None:
    existing = out / "there.pdf"
    existing.write_bytes(b"keep me")
    before = len(entries(session, foyers[0].id))
    doc = str(documents[0].id)

    unknown = run(app, "read", "999999", "--output", str(out / "a"), "--reason", "audit")
    blank = run(app, "read", doc, "--output", str(out / "b"), "--reason", "  ")
    no_reason = run(app, "read", doc, "--output", str(out / "c"))
    clobber = run(app, "read", doc, "--output", str(existing), "--reason", "audit")
    nowhere = run(app, "read", doc, "--output", str(out / "no" / "d"), "--reason", "audit")

    assert (unknown.exit_code, unknown.output) == (1, "Error: document 999999 does not exist\n")
    assert (blank.exit_code, blank.output) == (1, "Error: a reason is required\n")
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    assert (clobber.exit_code, clobber.output) == (
        1,
        f"Error: {existing} exists: give a new file\n",
    )
    assert (nowhere.exit_code, nowhere.output) == (1, f"Error: {out / 'no'} is not a directory\n")
    assert existing.read_bytes() == b"keep me"
    assert sorted(p.name for p in out.iterdir()) == ["there.pdf"]
    assert session.scalars(select(DocumentRead)).all() == []
    assert len(entries(session, foyers[0].id)) == before


def test_read_of_a_damaged_document_leaves_no_file(
    app: Flask, rt: Runtime, documents: list[Document], out: Path
) -> None:
    rt.store.delete(documents[0].blob_key)

    result = run(app, "read", str(documents[0].id), "--output", str(out / "c"), "--reason", "audit")

    assert (result.exit_code, result.output) == (
        1,
        f"Error: document {documents[0].id} is damaged: its encrypted file is missing\n",
    )
    assert list(out.iterdir()) == []


def test_destroy_removes_rows_and_blob_and_journals_the_reason(
    app: Flask, rt: Runtime, session: Session, foyers: list[Foyer], documents: list[Document]
) -> None:
    target_id, blob_key = documents[0].id, documents[0].blob_key

    result = run(
        app, "destroy", str(target_id), "--reason", "doublon signalé", "--operator", "alice"
    )

    assert (result.exit_code, result.output) == (0, f"Document {target_id} destroyed.\n")
    session.expire_all()
    assert session.get(Document, target_id) is None
    assert not rt.store.exists(blob_key)
    assert last(session, foyers[0].id) == (
        "document.deleted",
        target_id,
        {"versions": 1, "operator": "alice", "reason": "doublon signalé"},
    )


def test_destroy_of_an_unknown_document_or_without_reason_destroys_nothing(
    app: Flask, session: Session, documents: list[Document]
) -> None:
    unknown = run(app, "destroy", "999999", "--reason", "ménage")
    blank = run(app, "destroy", str(documents[0].id), "--reason", "")

    assert (unknown.exit_code, unknown.output) == (1, "Error: document 999999 does not exist\n")
    assert (blank.exit_code, blank.output) == (1, "Error: a reason is required\n")
    session.expire_all()
    assert session.get(Document, documents[0].id) is not None


def test_metadata_prints_the_technical_fields_only_and_is_journaled(
    app: Flask, session: Session, foyers: list[Foyer], documents: list[Document]
) -> None:
    document = documents[0]

    result = run(app, "metadata", str(document.id), "--operator", "alice")

    assert result.exit_code == 0, result.output
    assert result.output == (
        f"id: {document.id}\nfoyer: {foyers[0].id}\ntype: justificatif_domicile\n"
        f"state: depose\ndepositor: -\nchannel: en_ligne\n"
        f"deposited at: {document.deposited_at.isoformat()}\nsize: 5000\n"
        f"hash algorithm: sha256\nhash: {document.sha256}\nreplaces: -\nsuperseded at: -\n"
    )
    assert "facture" not in result.output  # the file's name may name someone
    assert last(session, foyers[0].id) == (
        "operator.metadata",
        document.id,
        {"operator": "alice"},
    )


def test_metadata_of_an_unknown_document_fails_cleanly(app: Flask) -> None:
    result = run(app, "metadata", "999999")

    assert (result.exit_code, result.output) == (1, "Error: document 999999 does not exist\n")


def test_exists_says_intact_or_damaged_and_journals_the_outcome(
    app: Flask, rt: Runtime, session: Session, foyers: list[Foyer], documents: list[Document]
) -> None:
    intact = run(app, "exists", str(documents[0].id), "--operator", "alice")
    with rt.store.open(documents[0].blob_key) as blob:
        sealed = bytearray(blob.read())
    sealed[-20] ^= 0x01
    rt.store.put(documents[0].blob_key, io.BytesIO(bytes(sealed)))
    rt.store.delete(documents[1].blob_key)

    altered = run(app, "exists", str(documents[0].id), "--operator", "alice")
    gone = run(app, "exists", str(documents[1].id), "--operator", "alice")
    unknown = run(app, "exists", "999999")

    assert (intact.exit_code, intact.output) == (
        0,
        f"document {documents[0].id}: present and intact.\n",
    )
    assert altered.exit_code == 1
    assert altered.output.startswith(f"damaged: document {documents[0].id}: ")
    assert (gone.exit_code, gone.output) == (
        1,
        f"damaged: document {documents[1].id}: its encrypted file is missing\n",
    )
    assert unknown.exit_code == 1
    controls = [
        (e.document_id, json.loads(e.details))
        for e in entries(session, foyers[0].id)
        if e.event == "operator.control"
    ]
    assert controls == [
        (documents[0].id, {"operator": "alice", "intact": True}),
        (documents[0].id, {"operator": "alice", "intact": False}),
        (documents[1].id, {"operator": "alice", "intact": False}),
    ]


def test_list_prints_a_foyers_documents_and_is_journaled(
    app: Flask, session: Session, foyers: list[Foyer], documents: list[Document]
) -> None:
    result = run(app, "list", "--foyer", str(foyers[0].id), "--operator", "alice")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split("\t")[:4] for line in lines[:-1]] == [
        [str(documents[0].id), "justificatif_domicile", "depose", "5000"],
        [str(documents[1].id), "justificatif_domicile", "depose", "6000"],
    ]
    assert lines[0].endswith(f"sha256:{documents[0].sha256}")
    assert lines[-1] == f"2 documents in foyer {foyers[0].id}."
    assert last(session, foyers[0].id) == (
        "operator.list",
        None,
        {"operator": "alice", "documents": 2},
    )


def test_list_and_count_of_an_unknown_foyer_fail_cleanly(app: Flask) -> None:
    listed = run(app, "list", "--foyer", "999999")
    counted = run(app, "count", "--foyer", "999999")

    assert (listed.exit_code, listed.output) == (1, "Error: foyer 999999 does not exist\n")
    assert (counted.exit_code, counted.output) == (1, "Error: foyer 999999 does not exist\n")


def test_count_per_foyer_and_for_one_foyer_each_journaled(
    app: Flask, session: Session, clock: FrozenClock, foyers: list[Foyer], documents: list[Document]
) -> None:
    empty = make_foyer(session, clock, "Benali")

    everyone = run(app, "count", "--operator", "alice")
    one = run(app, "count", "--foyer", str(foyers[1].id), "--operator", "alice")
    none = run(app, "count", "--foyer", str(empty.id), "--operator", "alice")

    assert (everyone.exit_code, everyone.output) == (
        0,
        f"foyer {foyers[0].id}: 2 documents, 11000 bytes\n"
        f"foyer {foyers[1].id}: 1 documents, 7000 bytes\n"
        "3 documents in 2 foyers.\n",
    )
    assert one.output == f"foyer {foyers[1].id}: 1 documents, 7000 bytes\n"
    assert none.output == f"foyer {empty.id}: 0 documents, 0 bytes\n"
    assert last(session, None) == (
        "operator.count",
        None,
        {"operator": "alice", "documents": 3, "foyers": 2},
    )
    assert last(session, foyers[1].id)[::2] == (
        "operator.count",
        {"operator": "alice", "documents": 1},
    )


def test_journal_read_prints_the_chain_with_this_read_last(
    app: Flask, session: Session, foyers: list[Foyer], documents: list[Document]
) -> None:
    result = app.test_cli_runner().invoke(
        args=["coffre", "journal", "read", "--foyer", str(foyers[0].id), "--operator", "alice"]
    )

    assert result.exit_code == 0, result.output
    chain = entries(session, foyers[0].id)
    lines = result.output.splitlines()
    assert [line.split("\t")[2] for line in lines] == [
        "key.created",
        "document.deposited",
        "document.deposited",
        "operator.journal",
    ]
    assert [line.split("\t")[-1] for line in lines] == [entry.hash for entry in chain]
    assert lines[1].split("\t")[4] == f"document={documents[0].id}"
    assert json.loads(lines[-1].split("\t")[6]) == {"operator": "alice"}


def test_journal_read_of_an_unknown_foyer_fails_and_journals_nothing(
    app: Flask, session: Session
) -> None:
    result = app.test_cli_runner().invoke(args=["coffre", "journal", "read", "--foyer", "999999"])

    assert (result.exit_code, result.output) == (1, "Error: foyer 999999 does not exist\n")
    assert entries(session, 999999) == [] and entries(session, None) == []


def test_the_operator_defaults_to_the_system_user_and_must_be_a_login(
    app: Flask, session: Session, foyers: list[Foyer], documents: list[Document]
) -> None:
    default = run(app, "metadata", str(documents[0].id))
    full_name = run(app, "metadata", str(documents[0].id), "--operator", "Jean Dupont")

    assert default.exit_code == 0, default.output
    assert last(session, foyers[0].id)[2] == {"operator": getpass.getuser()}
    assert full_name.exit_code == 2 and "Invalid value for '--operator'" in full_name.output
    assert [e.event for e in entries(session, foyers[0].id)].count("operator.metadata") == 1


def test_the_journal_still_verifies_after_every_act(
    app: Flask, foyers: list[Foyer], documents: list[Document], scan: Path, tmp_path: Path
) -> None:
    foyer, doc = str(foyers[0].id), str(documents[0].id)
    acts = [
        ["deposit", "--foyer", foyer, "--type", "rib", str(scan)],
        ["read", doc, "--output", str(tmp_path / "copie.pdf"), "--reason", "contrôle"],
        ["metadata", doc],
        ["exists", doc],
        ["list", "--foyer", foyer],
        ["count"],
        ["count", "--foyer", foyer],
        ["journal", "read", "--foyer", foyer],
        ["journal", "read"],
        ["destroy", doc, "--reason", "contrôle terminé"],
    ]
    for act in acts:
        result = run(app, *act, "--operator", "alice")
        assert result.exit_code == 0, (act, result.output)

    verified = run(app, "journal", "verify")

    assert verified.exit_code == 0, verified.output
    assert verified.output.endswith("journal intact.\n")
