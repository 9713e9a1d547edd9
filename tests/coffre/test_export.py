"""A foyer's export: its documents in clear, a manifest, and a journal checkable from the ZIP."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import zipfile
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from coffre.clock import FrozenClock
from coffre.consent import FamilyReader
from coffre.journal import chain as journal
from coffre.models import Document, Foyer
from coffre.portability.export import export_chunks
from coffre.upkeep.maintenance import expire_documents
from coffre.vault import Vault
from tests.coffre.conftest import deposit, pdf_of, tiny_png

pytestmark = pytest.mark.usefixtures("db_session")


def export_zip(vault: Vault, session: Session, foyer: Foyer) -> zipfile.ZipFile:
    data = b"".join(export_chunks(session, vault, FamilyReader(3, foyer.id)))
    return zipfile.ZipFile(io.BytesIO(data))


def read_json(archive: zipfile.ZipFile, name: str) -> Any:
    return json.loads(archive.read(name).decode("utf-8"))


def chain_problems(entries: list[dict[str, Any]]) -> list[str]:
    """Re-check an exported chain with nothing but the ZIP: seq, prev links and every hash."""
    problems, prev = [], "0" * 64
    for number, entry in enumerate(entries, start=1):
        fields = {name: value for name, value in entry.items() if name != "hash"}
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        if entry["seq"] != number:
            problems.append(f"{number}: seq {entry['seq']}")
        if entry["prev"] != prev:
            problems.append(f"{number}: prev")
        if hashlib.sha256(canonical.encode("utf-8")).hexdigest() != entry["hash"]:
            problems.append(f"{number}: hash")
        prev = entry["hash"]
    return problems


@pytest.fixture
def documents(
    vault: Vault, db_session: Session, clock: FrozenClock, foyer: Foyer
) -> list[tuple[Document, bytes]]:
    """A PDF replaced by a newer one, a PNG, and a PDF that has expired."""
    first = deposit(vault, db_session, foyer, pdf_of(5000), filename="facture été.pdf")
    second = deposit(vault, db_session, foyer, pdf_of(6000), replaces_id=first.id)
    scan = deposit(vault, db_session, foyer, tiny_png(), filename="scan.png", type_code="rib")
    old = deposit(vault, db_session, foyer, pdf_of(7000), issued_on=date(2026, 5, 1))
    clock.advance(timedelta(days=1))
    expire_documents(db_session, clock)
    return [(first, pdf_of(5000)), (second, pdf_of(6000)), (scan, tiny_png()), (old, pdf_of(7000))]


def test_every_document_is_in_clear_and_byte_identical(
    vault: Vault, db_session: Session, foyer: Foyer, documents: list[tuple[Document, bytes]]
) -> None:
    with export_zip(vault, db_session, foyer) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        stored = {name: archive.read(name) for name in names if name.startswith("documents/")}

    assert stored == {
        f"documents/{document.id}-{document.original_name}": content
        for document, content in documents
    }
    assert f"documents/{documents[0][0].id}-facture été.pdf" in stored
    assert sorted(set(names) - set(stored)) == ["journal.json", "manifest.json"]


def test_the_zip_is_read_from_the_store_alone_once_the_export_is_committed(
    vault: Vault,
    sessions: sessionmaker[Session],
    foyer: Foyer,
    documents: list[tuple[Document, bytes]],
) -> None:
    # A session that refuses any use once closed: a stream still needing it would fail.
    with sessions(close_resets_only=False) as session:
        chunks = export_chunks(session, vault, FamilyReader(3, foyer.id))
        # No transaction left: sent slowly, the ZIP would otherwise hold SQLite's write lock.
        assert not session.in_transaction()

    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as archive:
        assert archive.testzip() is None
        exported = read_json(archive, "journal.json")
        stored = [archive.read(entry["fichier"]) for entry in read_json(archive, "manifest.json")]
    assert stored == [content for _, content in documents]
    assert exported[-1]["event"] == "foyer.exported"


def test_manifest_describes_each_document_and_its_digest_matches(
    vault: Vault, db_session: Session, foyer: Foyer, documents: list[tuple[Document, bytes]]
) -> None:
    with export_zip(vault, db_session, foyer) as archive:
        manifest = read_json(archive, "manifest.json")
        contents = {entry["fichier"]: archive.read(entry["fichier"]) for entry in manifest}

    by_id = {entry["id"]: entry for entry in manifest}
    assert sorted(by_id) == sorted(document.id for document, _ in documents)
    for entry in manifest:
        assert hashlib.sha256(contents[entry["fichier"]]).hexdigest() == entry["sha256"]
        assert entry["taille"] == len(contents[entry["fichier"]])
    first, second, scan, old = (by_id[document.id] for document, _ in documents)
    assert (first["type"], first["etat"], first["remplace_le"]) == (
        "justificatif_domicile",
        "depose",
        "2026-09-01T08:00:00+00:00",
    )
    assert (second["remplace"], second["date_emission"], second["valide_jusqu_au"]) == (
        documents[0][0].id,
        "2026-08-20",
        "2026-11-20",
    )
    assert (scan["type"], scan["format"], scan["valide_jusqu_au"]) == ("rib", "image/png", None)
    assert (old["etat"], old["valide_jusqu_au"], old["depose_le"]) == (
        "expire",
        "2026-08-01",
        "2026-09-01T08:00:00+00:00",
    )


def test_journal_in_the_zip_verifies_on_its_own(
    vault: Vault, db_session: Session, foyer: Foyer, documents: list[tuple[Document, bytes]]
) -> None:
    with export_zip(vault, db_session, foyer) as archive:
        exported = read_json(archive, "journal.json")

    assert chain_problems(exported) == []
    assert {entry["chain"] for entry in exported} == {journal.chain_of(foyer.id)}
    assert exported[0]["event"] == "key.created"
    assert exported[-1]["event"] == "foyer.exported"  # the export is in its own journal
    stored = [entry.hash for entry in journal.entries(db_session, journal.chain_of(foyer.id))]
    assert [entry["hash"] for entry in exported] == stored


def test_edited_journal_in_the_zip_fails_the_check(
    vault: Vault, db_session: Session, foyer: Foyer, documents: list[tuple[Document, bytes]]
) -> None:
    with export_zip(vault, db_session, foyer) as archive:
        exported = read_json(archive, "journal.json")
    dropped = copy.deepcopy(exported[:2] + exported[3:])
    exported[1]["details"] = "{}"

    assert chain_problems(exported) == ["2: hash"]
    assert chain_problems(dropped)[:2] == ["3: seq 4", "3: prev"]


def test_another_foyers_documents_and_journal_are_absent(
    vault: Vault,
    db_session: Session,
    foyer: Foyer,
    other_foyer: Foyer,
    documents: list[tuple[Document, bytes]],
) -> None:
    theirs = deposit(vault, db_session, other_foyer, pdf_of(9999), filename="autre.pdf")

    with export_zip(vault, db_session, foyer) as archive:
        names = archive.namelist()
        everything = b"".join(archive.read(name) for name in names)
        exported = read_json(archive, "journal.json")

    assert not any(name.startswith(f"documents/{theirs.id}-") for name in names)
    assert pdf_of(9999) not in everything
    assert all(entry["foyer"] == foyer.id for entry in exported)


def test_export_is_journaled_with_its_reader(
    vault: Vault, db_session: Session, foyer: Foyer, documents: list[tuple[Document, bytes]]
) -> None:
    export_zip(vault, db_session, foyer).close()

    [exported] = [
        entry
        for entry in journal.entries(db_session, journal.chain_of(foyer.id))
        if entry.event == "foyer.exported"
    ]
    assert (exported.actor_id, json.loads(exported.details)) == (3, {"documents": 4})
    assert journal.verify(db_session) == []


def test_empty_vault_exports_a_manifest_and_journal(
    vault: Vault, db_session: Session, foyer: Foyer
) -> None:
    with export_zip(vault, db_session, foyer) as archive:
        assert archive.namelist() == ["manifest.json", "journal.json"]
        assert read_json(archive, "manifest.json") == []
        assert [e["event"] for e in read_json(archive, "journal.json")] == ["foyer.exported"]
