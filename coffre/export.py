"""Portability: a foyer's whole vault as a ZIP of its documents in clear, with a manifest
and its own journal chain (which can be re-checked from the ZIP alone).

The ZIP is produced as a stream of chunks in bounded memory (no seeking: entries use
data descriptors and ZIP64), so it can be written to a file or sent over HTTP as it goes.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from typing import IO, Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from coffre import consent, journal
from coffre.catalogue import DOCUMENT_TYPES
from coffre.consent import FamilyReader
from coffre.errors import DocumentNotFound
from coffre.models import Document, Foyer
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


def export_chunks(session: Session, vault: Vault, reader: FamilyReader) -> Iterator[bytes]:
    """Journal the export, then yield the ZIP of the reader's foyer piece by piece."""
    foyer = session.get(Foyer, reader.foyer_id)
    if foyer is None or foyer.shredded_at is not None:
        raise DocumentNotFound(f"foyer {reader.foyer_id} does not exist")
    documents = list(
        session.scalars(
            select(Document).where(Document.foyer_id == reader.foyer_id).order_by(Document.id)
        )
    )
    journal.record(
        session,
        vault.clock,
        "foyer.exported",
        foyer_id=reader.foyer_id,
        actor_id=reader.account_id,
        details={"documents": len(documents)},
    )
    session.commit()
    return _zip_stream(session, vault, reader, documents)


def _zip_stream(
    session: Session, vault: Vault, reader: FamilyReader, documents: list[Document]
) -> Iterator[bytes]:
    spool = _Spool()
    with zipfile.ZipFile(cast(IO[bytes], spool), "w", compression=zipfile.ZIP_STORED) as archive:
        manifest = []
        for document in documents:
            consent.check_access(session, reader, document.id)  # the one check, even here
            name = f"documents/{document.id}-{document.original_name}"
            info = zipfile.ZipInfo(name, date_time=document.deposited_at.timetuple()[:6])
            with archive.open(info, "w", force_zip64=True) as entry:
                for chunk in vault.plaintext(session, document):
                    entry.write(chunk)
                    yield spool.take()
            manifest.append(_manifest_entry(document, name))
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        archive.writestr("journal.json", json.dumps(_journal(session, reader.foyer_id), indent=1))
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


def _journal(session: Session, foyer_id: int) -> list[dict[str, Any]]:
    return [
        journal.entry_fields(entry) | {"hash": entry.hash}
        for entry in journal.entries(session, journal.chain_of(foyer_id))
    ]
