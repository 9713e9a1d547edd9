"""The family's export gives back its data too (décret 2018-853): JSON with its published
schema and CSV, each file in the manifest with its digest; nothing the family may not see."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from sqlalchemy.orm import Session

from accounts.models import Account
from coffre.models import Document, FoyerMember
from interop import portability
from procedures.history import EngineContext, record_event
from procedures.models import Demande
from tests.web.famille.test_demandes import child, papers, published, submitted  # noqa: F401
from web.runtime import runtime


def exported(client: FlaskClient) -> zipfile.ZipFile:
    response = client.get("/famille/coffre/export")
    assert response.status_code == 200
    return zipfile.ZipFile(io.BytesIO(response.data))


def test_the_export_holds_the_household_its_demandes_and_consents_as_json_and_csv(
    app: Flask,
    family_client: FlaskClient,
    family: Account,
    published: None,  # noqa: F811
    child: FoyerMember,  # noqa: F811
    papers: list[Document],  # noqa: F811
    db_session: Session,
) -> None:
    demande_id = submitted(family_client, child, papers)
    demande = db_session.get_one(Demande, demande_id)
    ctx = EngineContext(clock=runtime(app).clock)
    record_event(db_session, ctx, demande, None, "internal_note", "Dossier à revoir", internal=True)
    record_event(db_session, ctx, demande, None, "agent_message", "Merci pour votre demande")
    db_session.commit()

    with exported(family_client) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        files = {name: archive.read(name) for name in archive.namelist()}

    listed = {entry["fichier"]: entry for entry in manifest if entry["type"] == "donnees"}
    expected = {f"donnees/{table.name}.csv" for table in portability.TABLES}
    assert set(listed) == expected | {"donnees/donnees.json", "donnees/donnees.schema.json"}
    for name, entry in listed.items():  # verifiable from the manifest alone
        assert hashlib.sha256(files[name]).hexdigest() == entry["sha256"]
        assert len(files[name]) == entry["taille"]
    data = json.loads(files["donnees/donnees.json"])
    schema = json.loads(files["donnees/donnees.schema.json"])
    assert list(Draft202012Validator(schema).iter_errors(data)) == []

    assert [member["first_name"] for member in data["membres"]] == ["Alex", "Léa"]
    assert [account["email"] for account in data["comptes"]] == [family.email]
    [given] = data["demandes"]
    assert (given["id"], given["procedure"], given["status"]) == (demande_id, "creche", "deposee")
    assert given["answers"]["jours"] == "4"
    history = [(event["kind"], event["comment"]) for event in data["historique_demandes"]]
    assert ("agent_message", "Merci pour votre demande") in history
    assert sorted(c["document_id"] for c in data["consentements"]) == sorted(p.id for p in papers)
    assert data["factures"] == [] and data["reservations"] == []
    # What the family may not see, nowhere in the export.
    everything = b"".join(files.values())
    assert b"Dossier \xc3\xa0 revoir" not in everything  # an agent's internal note
    assert b"argon2" not in everything and b"password" not in everything

    rows = list(csv.reader(io.StringIO(files["donnees/demandes.csv"].decode()), delimiter=";"))
    assert rows[0] == list(portability.TABLES[3].columns)
    assert [row[0] for row in rows[1:]] == [str(demande_id)]


def test_the_published_schema_names_every_exported_column_and_no_other() -> None:
    schema = portability.schema()
    tables = {table.name: list(table.columns) for table in portability.TABLES}

    described = {
        name: list(schema["properties"][name]["items"]["properties"])
        for name in schema["properties"]
        if name != "$schema"
    }
    assert described == tables
    assert schema["$id"] == portability.SCHEMA_ID
