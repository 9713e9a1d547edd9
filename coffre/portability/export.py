"""Portability: a foyer's whole vault as a ZIP of its documents in clear, with a manifest
and its own journal chain (which can be re-checked from the ZIP alone), and the data files
the caller adds (the portal's other data on the foyer: `interop.portability`), each listed
in the manifest with its size and SHA-256.

The ZIP is produced as a stream of chunks in bounded memory (no seeking: entries use
data descriptors and ZIP64), so it can be written to a file or sent over HTTP as it goes.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field, replace
from typing import IO, Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from coffre import consent, keys
from coffre.catalogue import DOCUMENT_TYPES
from coffre.consent import FamilyReader
from coffre.errors import DocumentNotFound
from coffre.journal import chain as journal
from coffre.models import Document, Foyer, ScanState
from coffre.vault import Vault


class _Spool:
    """A write-only sink whose bytes are taken out after each write (never seeks)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._offset = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self._offset

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


@dataclass(frozen=True)
class _File:
    """A document of the ZIP: its row, its name in the ZIP and its foyer's data key."""

    document: Document
    name: str
    key: keys.DataKey = field(repr=False)


@dataclass(frozen=True)
class _Contents:
    """Everything the ZIP holds that comes from the database, read before the first byte."""

    files: list[_File]
    manifest: list[dict[str, Any]]
    journal: list[dict[str, Any]]
    data: Mapping[str, bytes] = field(default_factory=dict)


def export_chunks(
    session: Session,
    vault: Vault,
    reader: FamilyReader,
    data: Mapping[str, bytes] | None = None,
    *,
    journaled: bool = True,
) -> Iterator[bytes]:
    """Check, read and journal everything the export needs (committed), then yield the ZIP.

    `data`: files to add, by their name in the ZIP, read by the caller in the same session.
    `journaled=False`: no `foyer.exported` entry now, for a ZIP prepared in the background
    (`coffre.portability.prepared`), which journals its own preparation and each of its downloads.

    The chunks read the object store only: the session holds no transaction while the
    ZIP is sent, however slow the client or wherever it goes (on SQLite, a transaction is
    the database's write lock, so a download left open stopped every other write).
    """
    contents = _read_contents(session, vault, reader, journaled)
    if data:
        listed = [_data_entry(name, content) for name, content in data.items()]
        contents = replace(contents, manifest=contents.manifest + listed, data=dict(data))
    session.commit()
    return _zip_stream(vault, contents)


def _read_contents(
    session: Session, vault: Vault, reader: FamilyReader, journaled: bool = True
) -> _Contents:
    foyer = session.get(Foyer, reader.foyer_id)
    if foyer is None or foyer.shredded_at is not None:
        raise DocumentNotFound(f"foyer {reader.foyer_id} does not exist")
    query = (
        select(Document)
        .where(Document.foyer_id == reader.foyer_id, Document.scan_state != ScanState.INFECTED)
        .order_by(Document.id)
    )  # a quarantined document's content is deleted: nothing to export
    documents = list(session.scalars(query))
    for document in documents:
        consent.check_access(session, reader, document.id)  # the one check, even here
    files = []
    if documents:  # a foyer gets its data key with its first document
        key = keys.data_key(session, vault.keyring, reader.foyer_id)
        files = [_File(d, f"documents/{d.id}-{d.original_name}", key) for d in documents]
    if journaled:
        journal.record(
            session,
            vault.clock,
            "foyer.exported",
            foyer_id=reader.foyer_id,
            actor_id=reader.account_id,
            details={"documents": len(documents)},
        )
    return _Contents(  # the journal is read after the entry above: the export is in it
        files=files,
        manifest=[_manifest_entry(file.document, file.name) for file in files],
        journal=_journal(session, reader.foyer_id),
    )


def _zip_stream(vault: Vault, contents: _Contents) -> Iterator[bytes]:
    spool = _Spool()
    with zipfile.ZipFile(cast(IO[bytes], spool), "w", compression=zipfile.ZIP_STORED) as archive:
        for file in contents.files:
            deposited = file.document.deposited_at.timetuple()[:6]
            info = zipfile.ZipInfo(file.name, date_time=deposited)
            # closing(): a client gone mid-file releases the blob now, not at collection.
            with (
                archive.open(info, "w", force_zip64=True) as entry,
                closing(vault.decrypted(file.document, file.key)) as chunks,
            ):
                for chunk in chunks:
                    entry.write(chunk)
                    yield spool.take()
        for name, content in contents.data.items():
            archive.writestr(name, content)
        manifest = json.dumps(contents.manifest, ensure_ascii=False, indent=2)
        archive.writestr("manifest.json", manifest)
        archive.writestr("journal.json", json.dumps(contents.journal, indent=1))
        yield spool.take()
    yield spool.take()


def _manifest_entry(document: Document, name: str) -> dict[str, Any]:
    kind = DOCUMENT_TYPES.get(document.type_code)
    return {
        "fichier": name,
        "id": document.id,
        "type": document.type_code,
        "libelle_type": kind.label if kind else document.type_code,
        "membre": document.member_id,
        "nom_original": document.original_name,
        "format": document.mime_type,
        "taille": document.size,
        "sha256": document.sha256,
        "etat": document.state.value,
        "motif_refus": document.refusal_reason,
        "date_emission": document.issued_on.isoformat(),
        "valide_jusqu_au": document.valid_until.isoformat() if document.valid_until else None,
        "depose_le": document.deposited_at.isoformat(),
        "canal": document.channel.value,
        "remplace": document.replaces_id,
        "remplace_le": document.superseded_at.isoformat() if document.superseded_at else None,
    }


def _data_entry(name: str, content: bytes) -> dict[str, Any]:
    return {
        "fichier": name,
        "type": "donnees",
        "format": "text/csv" if name.endswith(".csv") else "application/json",
        "taille": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }


def _journal(session: Session, foyer_id: int) -> list[dict[str, Any]]:
    return [
        journal.entry_fields(entry) | {"hash": entry.hash}
        for entry in journal.entries(session, journal.chain_of(foyer_id))
    ]
