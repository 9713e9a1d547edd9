"""The family reads its vault's whole journal: in French, newest first, page by page, its own."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from accounts.models import Account, Role, Service
from coffre import consent
from coffre.clock import FrozenClock
from coffre.consent import AgentReader, DemandeRef
from coffre.journal import chain as journal
from coffre.models import Document
from demo.seed import demo_pdf
from procedures.vault.journal import PAGE_SIZE
from tests.factories import make_account, make_agent, make_service, page_text
from tests.web.agent.test_guichet import open_counter
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token, log_in
from tests.web.conftest import deposit
from tests.web.famille.test_vault import make_demande, upload
from web.runtime import runtime

PAGE = "/famille/coffre/journal"


def rows(page: str) -> list[str]:
    """The table's body rows, as text without tags."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in body.split("<tr>")[1:]
    ]


@pytest.fixture
def service(db_session: Session) -> Service:
    service = make_service(db_session)
    service.name = "Service petite enfance"
    db_session.commit()
    return service


def deposited(client: FlaskClient, session: Session, foyer_id: int) -> Document:
    assert upload(client, demo_pdf("avis"), "avis-2026.pdf").status_code == 303
    return session.scalars(select(Document).where(Document.foyer_id == foyer_id)).one()


def read_by_agent(
    app: Flask,
    session: Session,
    clock: FrozenClock,
    service: Service,
    document: Document,
    family: Account,
) -> str:
    """The family shares the document with a demande, the service opens it, the family
    withdraws its consent: the demande's number."""
    demande = make_demande(session, clock, document.foyer_id)
    ref = DemandeRef(demande.id, document.foyer_id, True)
    consent.grant(session, clock, family.id, document, ref)
    consent.open_access(session, clock, demande.id, service.id)
    session.commit()
    agent = make_agent(session, clock, service)
    reader = AgentReader(agent.id, frozenset({service.id}))
    clock.current = datetime(2026, 9, 2, 13, 30, tzinfo=UTC)
    opened = runtime(app).vault.open(session, reader, document.id, demande.id, "view")
    assert b"".join(opened.chunks).startswith(b"%PDF")
    consent.revoke(session, clock, family.id, document, ref)
    session.commit()
    assert demande.number is not None
    return demande.number


def test_the_journal_tells_each_operation_newest_first_in_french(
    app: Flask,
    family_client: FlaskClient,
    family: Account,
    db_session: Session,
    clock: FrozenClock,
    service: Service,
) -> None:
    foyer_id = family.foyer_id or 0
    document = deposited(family_client, db_session, foyer_id)
    number = read_by_agent(app, db_session, clock, service, document, family)
    clock.current += timedelta(hours=1)
    assert family_client.get("/famille/coffre/export").status_code == 200
    token = csrf_token(family_client, "/famille/")
    path = f"/famille/coffre/{document.id}/supprimer"
    assert family_client.post(path, data={"csrf_token": token}).status_code == 303

    page = page_text(family_client.get(PAGE))

    assert "Le journal de mon coffre" in page
    request = f"{number} — Préinscription en crèche"
    assert rows(page) == [
        f"2 septembre 2026, 16:30 Suppression d'un justificatif et de ses versions précédentes :"
        f" un justificatif supprimé depuis {family.display_name} —",
        f"2 septembre 2026, 16:30 Téléchargement de tout le coffre 1 document"
        f" {family.display_name} —",
        f"2 septembre 2026, 15:30 Retrait du partage : un justificatif supprimé depuis"
        f" {family.display_name} {request}",
        f"2 septembre 2026, 15:30 Consultation d'un justificatif : un justificatif supprimé depuis"
        f" consulté Un agent de la commune Service petite enfance, {service.entity.name} {request}",
        f"1 septembre 2026, 10:00 Partage d'un justificatif avec une demande : un justificatif"
        f" supprimé depuis {family.display_name} {request}",
        f"1 septembre 2026, 10:00 Dépôt dans votre coffre : Avis d'imposition"
        f" {family.display_name} —",
        "1 septembre 2026, 10:00 Création de la clé de chiffrement de votre coffre"
        " Le portail, automatiquement —",
    ]
    assert "Opérations plus anciennes" not in page


def test_the_journal_shows_no_key_nor_id_and_names_no_agent(
    app: Flask,
    family_client: FlaskClient,
    family: Account,
    db_session: Session,
    clock: FrozenClock,
    service: Service,
) -> None:
    foyer_id = family.foyer_id or 0
    document = deposited(family_client, db_session, foyer_id)
    read_by_agent(app, db_session, clock, service, document, family)

    page = page_text(family_client.get(PAGE))

    entries = list(journal.entries(db_session, journal.chain_of(foyer_id)))
    agent = db_session.get(Account, entries[-2].actor_id)
    assert agent is not None and agent.display_name not in page
    for entry in entries:
        assert entry.hash not in page and f"/{entry.id}" not in page
    assert "kek" not in page and "avis-2026.pdf" not in page


def test_a_long_journal_comes_in_pages_of_a_bounded_size_each_in_one_query(
    family_client: FlaskClient,
    family: Account,
    db_session: Session,
    clock: FrozenClock,
) -> None:
    foyer_id = family.foyer_id or 0
    exported = journal.Happened("foyer.exported", family.id, details={"documents": 2})
    total = 2 * PAGE_SIZE + 7
    journal.record_many(db_session, clock, foyer_id, [exported] * total)
    db_session.commit()

    with counted_statements(db_session) as statements:
        first = page_text(family_client.get(PAGE))
    on_journal = [s for s in statements if "journal_entries" in s]
    assert len(on_journal) == 1

    seen, page = [], first
    while True:
        seen += rows(page)
        older = re.search(r'href="(/famille/coffre/journal\?avant=\d+)"', page)
        if older is None:
            break
        page = page_text(family_client.get(older.group(1)))
        assert "Opérations les plus récentes" in page
    assert len(rows(first)) == PAGE_SIZE
    assert len(seen) == total
    assert all("Téléchargement de tout le coffre 2 documents" in row for row in seen)


class counted_statements:  # noqa: N801  (used as a context manager, like a function)
    """The SQL statements run on the test's connection while the block runs."""

    def __init__(self, session: Session) -> None:
        self.bind = session.get_bind()
        self.statements: list[str] = []

    def _record(self, *args: Any) -> None:
        self.statements.append(args[2])

    def __enter__(self) -> list[str]:
        event.listen(self.bind, "before_cursor_execute", self._record)
        return self.statements

    def __exit__(self, *exc: object) -> None:
        event.remove(self.bind, "before_cursor_execute", self._record)


def test_another_family_sees_only_its_own_journal(
    app: Flask,
    client: FlaskClient,
    family: Account,
    db_session: Session,
    clock: FrozenClock,
    service: Service,
) -> None:
    assert log_in(client, family.email).status_code == 302
    document = deposited(client, db_session, family.foyer_id or 0)
    number = read_by_agent(app, db_session, clock, service, document, family)
    client.delete_cookie("session")
    other = make_account(db_session, clock, Role.FAMILLE)
    assert log_in(client, other.email).status_code == 302

    page = page_text(client.get(PAGE))

    assert "Aucune opération n'est notée ici." in page
    assert number not in page and service.name not in page and family.display_name not in page
    assert page_text(client.get(f"{PAGE}?avant=1000")).count("<tr>") == 0


def test_agents_may_not_read_a_familys_journal_even_at_the_counter(
    client: FlaskClient, family: Account, db_session: Session, clock: FrozenClock
) -> None:
    assert client.get(PAGE).headers["Location"].startswith("/connexion?next=")
    agent = make_agent(db_session, clock, make_service(db_session, runs_counter=True))
    assert sign_in_agent(client, agent).status_code == 302
    assert client.get(PAGE).status_code == 403

    assert open_counter(client, family.foyer_id or 0).status_code == 303
    assert client.get("/famille/coffre").status_code == 200  # counter mode is on

    assert client.get(PAGE).status_code == 403


def test_an_operator_s_read_is_shown_to_the_family_with_its_reason(
    app: Flask,
    family_client: FlaskClient,
    family: Account,
    db_session: Session,
    tmp_path: Any,
) -> None:
    assert family.foyer_id is not None
    document = deposit(app, db_session, family.foyer_id)
    runner = app.test_cli_runner()

    read = runner.invoke(
        args=["coffre", "read", str(document.id), "--output", str(tmp_path / "copie.pdf"),
              "--reason", "demande du foyer au guichet", "--operator", "alice"]
    )  # fmt: skip

    assert read.exit_code == 0, read.output
    reads = page_text(family_client.get(f"/famille/coffre/{document.id}/consultations"))
    assert "lu par l'exploitant du portail, pour le motif indiqué" in reads
    journal_page = page_text(family_client.get("/famille/coffre/journal"))
    assert "demande du foyer au guichet" in journal_page
