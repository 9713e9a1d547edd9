"""The family's vault pages, through the Flask test client on the real vault and database."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from accounts.models import Account, Role
from coffre import consent
from coffre.clock import FrozenClock
from coffre.consent import AgentReader, DemandeRef
from coffre.models import Document, DocumentRead, DocumentState, Foyer, FoyerMember, MemberRole
from coffre.vault import DocumentDamaged, OpenedDocument
from demo.seed import demo_pdf
from procedures.models import Demande, DemandeStatus, ProcedureVersion
from tests.factories import make_account, make_agent, make_service, page_text
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token, log_in
from tests.web.conftest import deposit
from web.files import checked_chunks, content_disposition
from web.runtime import runtime

HTML_POSING_AS_PDF = b"<!doctype html><html><body><script>alert(1)</script></body></html>"
DANGEROUS = "Ce fichier contient du contenu potentiellement dangereux"


def upload(
    client: FlaskClient,
    content: bytes,
    filename: str = "avis.pdf",
    *,
    path: str = "/famille/coffre/ajouter",
    json_reply: bool = False,
    **fields: str,
) -> TestResponse:
    data: dict[str, object] = {
        "csrf_token": csrf_token(client, "/famille/"),
        "type_code": "avis_imposition",
        "member_id": "",
        "issued_on": "2026-04-15",
        "fichier": (io.BytesIO(content), filename),
    }
    data.update(fields)
    headers = {"Accept": "application/json"} if json_reply else {}
    return client.post(path, data=data, content_type="multipart/form-data", headers=headers)


def documents_of(session: Session, foyer_id: int) -> list[Document]:
    query = select(Document).where(Document.foyer_id == foyer_id).order_by(Document.id)
    return list(session.scalars(query))


def error_beside(page: str, field: str) -> str:
    match = re.search(
        rf'<p id="{field}-erreur" class="fr-error-text" data-erreur>([^<]*)</p>', page
    )
    assert match, f"no error shown beside {field}"
    return match.group(1)


def test_vault_groups_documents_by_person_with_french_states_and_expiry(
    app: Flask, family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    foyer_id = family.foyer_id
    assert foyer_id is not None
    child = FoyerMember(foyer_id=foyer_id, role=MemberRole.ENFANT, first_name="Léa", last_name="T")
    db_session.add(child)
    db_session.commit()
    deposit(app, db_session, foyer_id, "justificatif_domicile", issued_on=date(2026, 6, 20))
    deposit(app, db_session, foyer_id, "avis_imposition", issued_on=date(2024, 8, 1))
    vaccins = deposit(app, db_session, foyer_id, "carnet_vaccination", member_id=child.id)
    refused = deposit(app, db_session, foyer_id, "rib", issued_on=date(2026, 1, 1))
    refused.state, refused.refusal_reason = DocumentState.REFUSE, "illisible: photo floue"
    vaccins.state = DocumentState.VALIDE
    db_session.commit()

    page = page_text(family_client.get("/famille/coffre"))

    assert page.index("Tout le foyer") < page.index("Léa T") < page.index("Carnet de vaccination")
    assert "Valable jusqu'au 20 septembre 2026" in page  # within 30 days of 1 September 2026
    assert "expire bientôt" in page
    assert "Valable jusqu'au 31 décembre 2025" in page
    assert "expiré" in page
    assert "validé" in page and "déposé" in page and "refusé" in page
    assert "Motif du refus : illisible — photo floue" in page
    for action in ("Voir", "Télécharger", "Remplacer", "Historique", "Qui l'a consulté"):
        assert action in page
    assert f"/famille/coffre/{vaccins.id}/supprimer" in page
    assert "/famille/coffre/export" in page


def test_upload_form_offers_family_document_types_and_household_members(
    family_client: FlaskClient,
) -> None:
    page = page_text(family_client.get("/famille/coffre/ajouter"))

    assert 'value="avis_imposition"' in page
    assert "attestation_mairie" not in page
    assert "Tout le foyer" in page and "Alex Test" in page
    assert 'type="file"' in page and 'enctype="multipart/form-data"' in page
    assert "/static/js/depot.js" in page
    assert "<progress" in page


def test_family_uploads_a_pdf_into_its_vault(
    family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    pdf = demo_pdf("Avis d'imposition 2025")

    response = upload(family_client, pdf, "avis-2025.pdf")

    assert response.status_code == 303
    assert response.headers["Location"] == "/famille/coffre"
    [stored] = documents_of(db_session, family.foyer_id or 0)
    assert (stored.type_code, stored.original_name, stored.size) == (
        "avis_imposition",
        "avis-2025.pdf",
        len(pdf),
    )
    assert stored.issued_on == date(2026, 4, 15) and stored.deposited_by == family.id
    page = page_text(family_client.get("/famille/coffre"))
    assert "Votre document a été déposé dans votre coffre-fort." in page
    assert "avis-2025.pdf" in page


def test_script_upload_gets_json_with_the_page_to_go_to(
    family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    response = upload(family_client, demo_pdf("x"), json_reply=True)

    assert response.status_code == 201
    assert response.get_json() == {"redirect": "/famille/coffre"}
    assert len(documents_of(db_session, family.foyer_id or 0)) == 1


def test_refused_upload_shows_the_vaults_french_message_beside_the_file_and_stores_nothing(
    app: Flask, family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    response = upload(family_client, HTML_POSING_AS_PDF, "facture.pdf")

    assert response.status_code == 422
    assert DANGEROUS in error_beside(page_text(response), "fichier")
    assert "fr-upload-group--error" in page_text(response)
    assert documents_of(db_session, family.foyer_id or 0) == []
    assert list(runtime(app).store.keys("documents/")) == []

    scripted = upload(family_client, HTML_POSING_AS_PDF, "facture.pdf", json_reply=True)
    assert scripted.status_code == 422
    assert DANGEROUS in scripted.get_json()["errors"]["fichier"][0]


def test_upload_form_errors_are_given_beside_their_fields(family_client: FlaskClient) -> None:
    missing = family_client.post(
        "/famille/coffre/ajouter",
        data={"csrf_token": csrf_token(family_client, "/famille/"), "issued_on": "2026-09-02"},
        content_type="multipart/form-data",
    )

    assert missing.status_code == 400
    page = page_text(missing)
    assert error_beside(page, "type_code") == "Choisissez le type de document."
    assert error_beside(page, "issued_on") == "La date d'émission ne peut pas être dans le futur."
    assert error_beside(page, "fichier") == "Choisissez le fichier à déposer."


def test_upload_without_csrf_token_is_refused(
    family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    response = family_client.post(
        "/famille/coffre/ajouter",
        data={
            "type_code": "rib",
            "issued_on": "2026-01-01",
            "fichier": (io.BytesIO(b"%PDF"), "a.pdf"),
        },
        content_type="multipart/form-data",
    )

    assert response.status_code == 400
    assert documents_of(db_session, family.foyer_id or 0) == []


def test_replacing_a_document_keeps_the_previous_version_in_its_history(
    app: Flask, family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    first = deposit(app, db_session, family.foyer_id or 0, "justificatif_domicile")
    form = page_text(family_client.get(f"/famille/coffre/ajouter?remplace={first.id}"))
    assert "Remplacer un document" in form and 'name="type_code"' not in form

    response = upload(
        family_client,
        demo_pdf("nouvelle facture"),
        "facture-septembre.pdf",
        path=f"/famille/coffre/ajouter?remplace={first.id}",
        issued_on="2026-08-30",
    )

    assert response.status_code == 303
    old, new = documents_of(db_session, family.foyer_id or 0)
    db_session.refresh(old)
    assert old.id == first.id and old.superseded_at is not None
    assert (new.replaces_id, new.type_code) == (first.id, "justificatif_domicile")
    vault_page = page_text(family_client.get("/famille/coffre"))
    assert "facture-septembre.pdf" in vault_page and "facture.pdf" not in vault_page
    history = page_text(family_client.get(f"/famille/coffre/{new.id}/historique"))
    assert history.index("facture-septembre.pdf") < history.index("facture.pdf")
    assert "version 1" in history
    assert family_client.get(f"/famille/coffre/ajouter?remplace={first.id}").status_code == 404


def test_a_certificate_from_the_town_cannot_be_replaced_by_the_family(
    app: Flask, family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    issued = deposit(app, db_session, family.foyer_id or 0, "attestation_mairie")

    assert family_client.get(f"/famille/coffre/ajouter?remplace={issued.id}").status_code == 403
    assert "?remplace=" not in page_text(family_client.get("/famille/coffre"))


def test_preview_and_download_give_the_deposited_bytes_with_safe_headers(
    app: Flask, family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    pdf = demo_pdf("Quittance")
    document = deposit(
        app, db_session, family.foyer_id or 0, content=pdf, filename="Quittance d'été 2026.pdf"
    )
    preview = page_text(family_client.get(f"/famille/coffre/{document.id}/voir"))
    assert f'<iframe class="portail-apercu" src="/famille/coffre/{document.id}/fichier' in preview

    inline = family_client.get(f"/famille/coffre/{document.id}/fichier?disposition=inline")
    attachment = family_client.get(f"/famille/coffre/{document.id}/fichier?disposition=attachment")

    assert inline.data == attachment.data == pdf
    for response, disposition in ((inline, "inline"), (attachment, "attachment")):
        assert response.headers["Content-Type"] == "application/pdf"
        assert response.headers["Content-Disposition"] == (
            f'{disposition}; filename="Quittance d_ete 2026.pdf"; '
            "filename*=UTF-8''Quittance%20d%27%C3%A9t%C3%A9%202026.pdf"
        )
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Content-Length"] == str(len(pdf))
        assert response.headers["Content-Security-Policy"].startswith("sandbox; default-src 'none'")
    assert "frame-ancestors 'self'" in inline.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in attachment.headers["Content-Security-Policy"]
    purposes = db_session.scalars(
        select(DocumentRead.purpose).where(DocumentRead.document_id == document.id)
    ).all()
    assert sorted(purposes) == ["download", "view"]
    assert (
        family_client.get(f"/famille/coffre/{document.id}/fichier?disposition=x").status_code == 400
    )


def test_an_image_is_previewed_in_an_img(
    app: Flask, family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    from tests.coffre.conftest import tiny_png

    image = deposit(app, db_session, family.foyer_id or 0, content=tiny_png(), filename="rib.png")

    page = page_text(family_client.get(f"/famille/coffre/{image.id}/voir"))
    raw = family_client.get(f"/famille/coffre/{image.id}/fichier?disposition=inline")

    assert f'<img class="portail-apercu-image" src="/famille/coffre/{image.id}/fichier' in page
    assert raw.headers["Content-Type"] == "image/png" and raw.data == tiny_png()


def test_content_disposition_never_lets_a_name_break_the_header() -> None:
    header = content_disposition('a"b\\c\r\nSet-Cookie: x=1;\u202e.pdf', "attachment")

    assert "\r" not in header and "\n" not in header
    fallback = re.search(r'filename="([^"]*)"', header)
    assert fallback and fallback.group(1).isascii() and "\\" not in fallback.group(1)
    assert header.count('"') == 2


def test_deleting_a_document_asks_first_then_removes_it_with_its_versions(
    app: Flask, family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    document = deposit(app, db_session, family.foyer_id or 0)
    confirm = family_client.get(f"/famille/coffre/{document.id}/supprimer")
    assert confirm.status_code == 200
    assert "Cette action est définitive" in page_text(confirm)
    assert documents_of(db_session, family.foyer_id or 0) != []

    response = family_client.post(
        f"/famille/coffre/{document.id}/supprimer",
        data={"csrf_token": csrf_token(family_client, "/famille/")},
    )

    assert response.status_code == 303
    assert documents_of(db_session, family.foyer_id or 0) == []
    assert list(runtime(app).store.keys("documents/")) == []
    assert "Le document et ses versions précédentes ont été supprimés." in page_text(
        family_client.get("/famille/coffre")
    )
    assert family_client.get(f"/famille/coffre/{document.id}/voir").status_code == 404


def test_export_streams_a_zip_of_every_document(
    app: Flask, family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    pdf = demo_pdf("Carnet")
    document = deposit(app, db_session, family.foyer_id or 0, "carnet_vaccination", content=pdf)

    response = family_client.get("/famille/coffre/export")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="coffre-famille-2026-09-01.zip"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert archive.read(f"documents/{document.id}-facture.pdf") == pdf
        manifest = json.loads(archive.read("manifest.json"))
    documents = [entry for entry in manifest if entry["type"] != "donnees"]
    assert [entry["type"] for entry in documents] == ["carnet_vaccination"]


def make_demande(session: Session, clock: FrozenClock, foyer_id: int) -> Demande:
    version = ProcedureVersion(
        code=f"creche-{foyer_id}",
        version=1,
        title="Préinscription en crèche",
        metadata_json="{}",
        bpmn_xml="",
        published_at=clock.now(),
        is_current=False,  # a bare row (no diagram, no settings): no family may start it
    )
    session.add(version)
    session.flush()
    demande = Demande(
        number=f"D-{foyer_id}-1",
        foyer_id=foyer_id,
        procedure_version_id=version.id,
        status=DemandeStatus.EN_INSTRUCTION,
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    session.add(demande)
    session.flush()
    return demande


def test_who_read_lists_an_agents_read_for_a_request_but_not_the_familys_own(
    app: Flask,
    family_client: FlaskClient,
    family: Account,
    db_session: Session,
    clock: FrozenClock,
) -> None:
    foyer_id = family.foyer_id or 0
    document = deposit(app, db_session, foyer_id)
    service = make_service(db_session)
    agent = make_agent(db_session, clock, service)
    demande = make_demande(db_session, clock, foyer_id)
    consent.grant(db_session, clock, family.id, document, DemandeRef(demande.id, foyer_id, True))
    consent.open_access(db_session, clock, demande.id, service.id)
    db_session.commit()
    clock.current = datetime(2026, 9, 2, 13, 30, tzinfo=UTC)
    reader = AgentReader(agent.id, frozenset({service.id}))
    opened = runtime(app).vault.open(db_session, reader, document.id, demande.id, "view")
    assert b"".join(opened.chunks).startswith(b"%PDF")
    family_client.get(f"/famille/coffre/{document.id}/fichier")  # the family's own read

    page = page_text(family_client.get(f"/famille/coffre/{document.id}/consultations"))

    assert "Qui a consulté mes documents" in page
    assert service.name in page and service.entity.name in page
    assert demande.number in page and "Préinscription en crèche" in page
    assert "2 septembre 2026, 15:30" in page  # shown in Paris time
    assert page.count("<tr>") == 2  # the header row and the agent's read only
    assert "téléchargé" not in page


def test_nobody_has_read_a_new_document(
    app: Flask, family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    document = deposit(app, db_session, family.foyer_id or 0)

    page = page_text(family_client.get(f"/famille/coffre/{document.id}/consultations"))

    assert "Aucun service n'a consulté ce document." in page


def document_routes(app: Flask) -> list[tuple[str, str]]:
    """Every (method, rule) of the family's blueprint that takes a document id."""
    return sorted(
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("famille.") and "document_id" in rule.arguments
        for method in rule.methods or ()
        if method in {"GET", "POST"}
    )


def test_every_vault_route_answers_404_for_another_familys_document(
    app: Flask,
    family_client: FlaskClient,
    family: Account,
    db_session: Session,
    clock: FrozenClock,
) -> None:
    other = make_account(db_session, clock, Role.FAMILLE)
    theirs = deposit(app, db_session, other.foyer_id or 0, "rib")
    token = csrf_token(family_client, "/famille/")
    routes = document_routes(app)
    assert len(routes) >= 6, routes
    requests = [
        (method, rule.replace("<int:document_id>", str(theirs.id))) for method, rule in routes
    ]
    requests += [
        ("GET", f"/famille/coffre/{theirs.id}/fichier?disposition=inline"),
        ("GET", f"/famille/coffre/ajouter?remplace={theirs.id}"),
        ("POST", f"/famille/coffre/ajouter?remplace={theirs.id}"),
    ]

    for method, path in requests:
        if method == "GET":
            response = family_client.get(path)
        else:
            data = {
                "csrf_token": token,
                "issued_on": "2026-01-01",
                "fichier": (io.BytesIO(demo_pdf("intrus")), "intrus.pdf"),
            }
            response = family_client.post(path, data=data, content_type="multipart/form-data")
        assert response.status_code == 404, (method, path, response.status_code)
        assert "Cette page n'existe pas" in page_text(response)

    assert [d.id for d in documents_of(db_session, other.foyer_id or 0)] == [theirs.id]
    reads = db_session.scalar(select(func.count()).select_from(DocumentRead))
    assert reads == 0


@pytest.mark.parametrize(
    "path", ["/famille/coffre", "/famille/coffre/ajouter", "/famille/coffre/export"]
)
def test_vault_pages_are_for_families_only(
    client: FlaskClient, db_session: Session, clock: FrozenClock, path: str
) -> None:
    assert client.get(path).headers["Location"].startswith("/connexion?next=")
    assert sign_in_agent(client, make_account(db_session, clock, Role.AGENT)).status_code == 302

    assert client.get(path).status_code == 403


def test_a_damaged_document_gets_a_french_500_and_only_its_id_is_logged(
    app: Flask,
    family_client: FlaskClient,
    family: Account,
    db_session: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    document = deposit(app, db_session, family.foyer_id or 0, filename="secret-name.pdf")
    runtime(app).store.delete(document.blob_key)

    response = family_client.get(f"/famille/coffre/{document.id}/fichier")

    assert response.status_code == 500
    assert "Ce document est endommagé" in page_text(response)
    assert "La mairie a été prévenue" in page_text(response)
    assert f"document {document.id} is damaged" in caplog.text
    assert "secret-name" not in caplog.text


def test_damage_found_after_the_first_segment_cuts_the_transfer_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def segments() -> Iterator[bytes]:
        yield b"%PDF-first segment"
        raise DocumentDamaged(41, "a tag does not verify")

    chunks = checked_chunks(OpenedDocument(Document(id=41), segments()))

    assert next(chunks) == b"%PDF-first segment"
    with pytest.raises(DocumentDamaged):
        next(chunks)
    assert "document 41 is damaged: transfer cut short" in caplog.text


def test_deleting_the_account_needs_the_typed_word_then_shreds_everything(
    app: Flask,
    family_client: FlaskClient,
    family: Account,
    db_session: Session,
    clock: FrozenClock,
) -> None:
    foyer_id = family.foyer_id or 0
    partner = make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer_id)
    deposit(app, db_session, foyer_id)
    token = csrf_token(family_client, "/famille/")
    page = page_text(family_client.get("/famille/compte/supprimer"))
    assert "Tout sera supprimé définitivement" in page and "SUPPRIMER" in page

    wrong = family_client.post(
        "/famille/compte/supprimer", data={"csrf_token": token, "confirmation": "supprimer"}
    )
    assert wrong.status_code == 400
    assert "Saisissez le mot SUPPRIMER en majuscules" in error_beside(
        page_text(wrong), "confirmation"
    )
    assert db_session.get(Foyer, foyer_id).shredded_at is None  # type: ignore[union-attr]

    done = family_client.post(
        "/famille/compte/supprimer", data={"csrf_token": token, "confirmation": " SUPPRIMER "}
    )

    assert done.status_code == 303 and done.headers["Location"] == "/"
    db_session.expire_all()
    assert db_session.get(Foyer, foyer_id).shredded_at is not None  # type: ignore[union-attr]
    assert documents_of(db_session, foyer_id) == []
    assert not db_session.get(Account, family.id).is_active  # type: ignore[union-attr]
    assert not db_session.get(Account, partner.id).is_active  # type: ignore[union-attr]
    assert family_client.get("/famille/coffre").status_code == 302
    assert log_in(family_client, family.email).status_code == 401
