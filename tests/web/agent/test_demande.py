"""The agent's review page of a demande, through HTTP: documents, verdicts, decisions, locking."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from accounts.models import Account, Role, Service
from coffre.clock import FrozenClock
from coffre.models import Document, DocumentRead, DocumentState, Foyer, FoyerMember, MemberRole
from notifications.models import OutboxMessage
from notifications.templates import AGENT_MESSAGE_TEMPLATE, render
from procedures import demandes
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.models import Demande, DemandeEvent, DemandeStatus, Task, TaskState
from tests.factories import make_account, make_agent, make_service, page_text
from tests.procedures.flows import open_task, publish
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token, log_in
from tests.web.conftest import deposit
from web.runtime import runtime

CONFLICT = "Un autre agent a modifié cette demande entre-temps"


@dataclass(frozen=True)
class Case:
    """A submitted crèche demande, the documents it was given, and one that it was not."""

    demande_id: int
    family: Account
    address: Document
    income: Document
    vaccination: Document
    kept: Document  # in the vault, never granted to the demande


@pytest.fixture
def petite_enfance(db_session: Session) -> Service:
    service = make_service(db_session, code="petite-enfance")
    service.name = "Service petite enfance"
    db_session.commit()
    return service


@pytest.fixture
def case(app: Flask, db_session: Session, clock: FrozenClock, petite_enfance: Service) -> Case:
    return submitted_case(app, db_session, clock)


def submitted_case(app: Flask, db_session: Session, clock: FrozenClock) -> Case:
    """A crèche demande submitted by a new family, with three documents shared and one kept."""
    publish(db_session, clock, "creche")
    family = make_account(db_session, clock, Role.FAMILLE)
    foyer = db_session.get(Foyer, family.foyer_id)
    assert foyer is not None
    foyer.label = "Famille Lambert"
    child = FoyerMember(role=MemberRole.ENFANT, first_name="Léa", last_name="Lambert")
    foyer.members.append(child)
    db_session.commit()
    address = deposit(app, db_session, foyer.id, "justificatif_domicile")
    income = deposit(app, db_session, foyer.id, "avis_imposition", issued_on=date(2026, 4, 15))
    vaccination = deposit(
        app, db_session, foyer.id, "carnet_vaccination", member_id=child.id,
        issued_on=date(2025, 1, 10),
    )  # fmt: skip
    kept = deposit(app, db_session, foyer.id, "piece_identite", filename="passeport-secret.pdf")
    ctx = EngineContext(clock=clock, vault=runtime(app).vault)
    actor = FamilyActor(family.id, foyer.id)
    draft = demandes.create_draft(db_session, ctx, actor, "creche")
    form = {"enfant": str(child.id), "date_entree": "2027-01-04", "jours": "4"}
    ids = [address.id, income.id, vaccination.id]
    demande = demandes.submit(db_session, ctx, actor, draft.id, form, ids)
    return Case(demande.id, family, address, income, vaccination, kept)


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> Account:
    return make_agent(db_session, clock, petite_enfance)


@pytest.fixture
def agent_client(client: FlaskClient, agent: Account) -> FlaskClient:
    assert sign_in_agent(client, agent).status_code == 302
    return client


def second_client(app: Flask, account: Account) -> FlaskClient:
    """Another browser: a colleague, or the family."""
    other = app.test_client()
    if account.role is Role.FAMILLE:
        assert log_in(other, account.email).status_code == 302
    else:
        assert sign_in_agent(other, account).status_code == 302
    return other


def page_of(case: Case) -> str:
    return f"/agent/demandes/{case.demande_id}"


def content_of(case: Case, document: Document) -> str:
    return f"{page_of(case)}/documents/{document.id}/contenu"


def post(client: FlaskClient, path: str, data: dict[str, object]) -> TestResponse:
    """Submit a form of the review page, with the CSRF token of the signed-in session."""
    demande_page = re.match(r"/agent/demandes/\d+", path)
    assert demande_page
    token = csrf_token(client, demande_page.group(0))
    return client.post(path, data={"csrf_token": token, **data})


def task_of(session: Session, case: Case) -> Task:
    session.expire_all()
    demande = session.get(Demande, case.demande_id)
    assert demande is not None
    return open_task(session, demande)


def demande_version(session: Session, case: Case) -> int:
    session.expire_all()
    demande = session.get(Demande, case.demande_id)
    assert demande is not None
    return demande.row_version


def act_on_task(
    client: FlaskClient, session: Session, case: Case, act: str, **data: object
) -> TestResponse:
    task = task_of(session, case)
    path = f"{page_of(case)}/taches/{task.id}/{act}"
    return post(client, path, {"version": task.row_version, **data})


def test_page_shows_the_request_and_only_the_granted_documents(
    agent_client: FlaskClient, case: Case, db_session: Session
) -> None:
    response = agent_client.get(page_of(case))

    assert response.status_code == 200
    page = page_text(response)
    demande = db_session.get(Demande, case.demande_id)
    assert demande is not None and demande.number
    assert demande.number in page and "Pré-inscription en crèche" in page
    assert "Famille : Lambert" in page and "Déposée" in page
    assert "Vérifier la complétude du dossier" in page and "Service petite enfance" in page
    assert "Date d'entrée souhaitée" in page and "4 janvier 2027" in page and "Léa Lambert" in page
    for label in ("Justificatif de domicile", "Avis d'imposition", "Carnet de vaccination"):
        assert label in page
    assert "passeport-secret" not in page and "Pièce d'identité" not in page.split("Historique")[0]
    assert f"/documents/{case.kept.id}" not in page


def test_granted_document_is_shown_inline_and_the_read_is_recorded(
    app: Flask, agent_client: FlaskClient, case: Case, db_session: Session, agent: Account
) -> None:
    document_page = agent_client.get(f"{page_of(case)}/documents/{case.income.id}")
    assert document_page.status_code == 200
    assert f'<iframe class="portail-apercu" src="{content_of(case, case.income)}"' in page_text(
        document_page
    )

    response = agent_client.get(content_of(case, case.income))

    assert response.status_code == 200
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
    assert response.headers["Content-Disposition"].startswith("inline;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    reads = db_session.scalars(
        select(DocumentRead).where(DocumentRead.document_id == case.income.id)
    ).all()
    assert [(r.reader_id, r.demande_id, r.purpose) for r in reads] == [
        (agent.id, case.demande_id, "view")
    ]
    family = second_client(app, case.family)
    who_read = page_text(family.get(f"/famille/coffre/{case.income.id}/consultations"))
    assert "Service petite enfance" in who_read


def test_document_not_granted_is_not_found(
    agent_client: FlaskClient, case: Case, db_session: Session
) -> None:
    assert agent_client.get(content_of(case, case.kept)).status_code == 404
    assert agent_client.get(f"{page_of(case)}/documents/{case.kept.id}").status_code == 404
    version = demande_version(db_session, case)
    refused = post(
        agent_client, f"{page_of(case)}/documents/{case.kept.id}/valider", {"version": version}
    )
    assert refused.status_code == 404
    assert db_session.scalars(select(DocumentRead)).all() == []
    assert db_session.get(Document, case.kept.id).state is DocumentState.DEPOSE  # type: ignore[union-attr]


def test_revoked_consent_hides_the_document(
    app: Flask, agent_client: FlaskClient, case: Case
) -> None:
    assert agent_client.get(content_of(case, case.address)).status_code == 200
    family = second_client(app, case.family)
    path = f"/famille/demandes/{case.demande_id}/documents/{case.address.id}/retirer"
    token = csrf_token(family, f"/famille/demandes/{case.demande_id}")
    assert family.post(path, data={"csrf_token": token}).status_code == 303

    assert agent_client.get(content_of(case, case.address)).status_code == 404
    assert f"/documents/{case.address.id}" not in page_text(agent_client.get(page_of(case)))


def test_agent_of_another_service_sees_nothing(
    app: Flask, client: FlaskClient, case: Case, db_session: Session, clock: FrozenClock
) -> None:
    outsider = make_agent(db_session, clock, make_service(db_session))
    assert sign_in_agent(client, outsider).status_code == 302

    assert client.get(page_of(case)).status_code == 404
    assert client.get(f"{page_of(case)}/documents/{case.income.id}").status_code == 404
    assert client.get(content_of(case, case.income)).status_code == 404
    claim = act_on_task(client, db_session, case, "prendre")
    assert claim.status_code == 404
    assert task_of(db_session, case).state is TaskState.OPEN
    assert db_session.scalars(select(DocumentRead)).all() == []


def test_validating_an_income_document_records_the_quotient(
    agent_client: FlaskClient, case: Case, db_session: Session
) -> None:
    path = f"{page_of(case)}/documents/{case.income.id}/valider"
    form = {"quotient": "842", "tranche": "C", "valide_jusqu_au": "2027-08-31"}

    response = post(agent_client, path, {"version": demande_version(db_session, case), **form})

    assert response.status_code == 303
    db_session.expire_all()
    assert db_session.get(Document, case.income.id).state is DocumentState.VALIDE  # type: ignore[union-attr]
    foyer = db_session.get(Foyer, case.family.foyer_id)
    assert foyer is not None
    assert (foyer.quotient_familial, foyer.tranche_qf, foyer.qf_valid_until) == (
        842, "C", date(2027, 8, 31),
    )  # fmt: skip
    page = page_text(agent_client.get(page_of(case)))
    assert "Justificatif marqué valide" in page and "Quotient familial 842, tranche C" in page


def test_half_typed_quotient_is_refused_and_nothing_is_recorded(
    agent_client: FlaskClient, case: Case, db_session: Session
) -> None:
    path = f"{page_of(case)}/documents/{case.income.id}/valider"

    response = post(
        agent_client, path, {"version": demande_version(db_session, case), "quotient": "842"}
    )

    assert response.status_code == 422
    assert "Choisissez la tranche tarifaire." in page_text(response)
    db_session.expire_all()
    assert db_session.get(Document, case.income.id).state is DocumentState.DEPOSE  # type: ignore[union-attr]
    assert db_session.get(Foyer, case.family.foyer_id).tranche_qf is None  # type: ignore[union-attr]


def test_refusing_a_document_keeps_its_reason(
    agent_client: FlaskClient, case: Case, db_session: Session
) -> None:
    path = f"{page_of(case)}/documents/{case.address.id}/refuser"
    version = demande_version(db_session, case)

    without_reason = post(agent_client, path, {"version": version, "commentaire": "Flou"})
    response = post(
        agent_client, path, {"version": version, "motif": "illisible", "commentaire": "Photo floue"}
    )

    assert without_reason.status_code == 422
    assert response.status_code == 303
    db_session.expire_all()
    document = db_session.get(Document, case.address.id)
    assert document is not None and document.state is DocumentState.REFUSE
    assert document.refusal_reason == "illisible: Photo floue"


def test_asking_the_family_puts_the_request_on_hold(
    app: Flask, agent_client: FlaskClient, case: Case, db_session: Session
) -> None:
    assert act_on_task(agent_client, db_session, case, "prendre").status_code == 303
    task = task_of(db_session, case)

    response = post(
        agent_client,
        f"{page_of(case)}/taches/{task.id}/demander",
        {
            "version": task.row_version,
            "message": "Le justificatif de domicile est illisible.",
            "justificatif": ["justificatif_domicile"],
        },
    )

    assert response.status_code == 303
    db_session.expire_all()
    assert db_session.get(Demande, case.demande_id).status is DemandeStatus.EN_ATTENTE_FAMILLE  # type: ignore[union-attr]
    waiting = db_session.get(Task, task.id)
    assert waiting is not None and waiting.state is TaskState.WAITING_FAMILY
    assert waiting.paused_remaining_seconds is not None
    family_page = page_text(
        second_client(app, case.family).get(f"/famille/demandes/{case.demande_id}")
    )
    assert "Le justificatif de domicile est illisible." in family_page
    assert "Justificatifs à fournir : Justificatif de domicile." in family_page


@pytest.mark.parametrize(
    ("decision", "status", "next_step"),
    [
        ("place", DemandeStatus.EN_INSTRUCTION, "accepter_place"),
        ("attente", DemandeStatus.CLASSEE, None),
        ("refus", DemandeStatus.REFUSEE, None),
    ],
)
def test_completing_the_steps_with_each_outcome(
    agent_client: FlaskClient,
    case: Case,
    db_session: Session,
    decision: str,
    status: DemandeStatus,
    next_step: str | None,
) -> None:
    assert act_on_task(agent_client, db_session, case, "prendre").status_code == 303
    assert (
        act_on_task(agent_client, db_session, case, "terminer", commentaire="Complet").status_code
        == 303
    )
    assert task_of(db_session, case).spec_id == "decision_commission"
    page = page_text(agent_client.get(page_of(case)))
    assert "Décision de la commission" in page and "Prendre cette étape" in page

    assert act_on_task(agent_client, db_session, case, "prendre").status_code == 303
    assert "Proposer une place" in page_text(agent_client.get(page_of(case)))
    done = act_on_task(
        agent_client, db_session, case, "terminer", decision=decision, motif="Commission du 3/09"
    )

    assert done.status_code == 303
    db_session.expire_all()
    demande = db_session.get(Demande, case.demande_id)
    assert demande is not None and demande.status is status
    live = db_session.scalars(
        select(Task.spec_id).where(Task.demande_id == demande.id, Task.state == TaskState.OPEN)
    ).all()
    assert live == ([next_step] if next_step else [])
    notes = db_session.scalars(select(DemandeEvent).where(DemandeEvent.comment == "Complet")).all()
    assert [(note.kind, note.internal) for note in notes] == [("internal_note", True)]


def test_completing_without_the_decision_is_refused(
    agent_client: FlaskClient, case: Case, db_session: Session
) -> None:
    act_on_task(agent_client, db_session, case, "prendre")
    act_on_task(agent_client, db_session, case, "terminer")
    act_on_task(agent_client, db_session, case, "prendre")

    response = act_on_task(agent_client, db_session, case, "terminer", motif="?")

    assert response.status_code == 422
    assert "« Décision de la commission » est à renseigner." in page_text(response)
    assert task_of(db_session, case).state is TaskState.CLAIMED


def test_internal_note_stays_off_the_family_page(
    app: Flask, agent_client: FlaskClient, case: Case, db_session: Session
) -> None:
    path = f"{page_of(case)}/commentaires"
    note = {"texte": "Dossier prioritaire, voir avec la directrice", "destinataire": "interne"}
    message = {"texte": "Nous étudions votre dossier cette semaine.", "destinataire": "famille"}

    assert (
        post(agent_client, path, {"version": demande_version(db_session, case), **note}).status_code
        == 303
    )
    assert (
        post(
            agent_client, path, {"version": demande_version(db_session, case), **message}
        ).status_code
        == 303
    )

    agent_page = page_text(agent_client.get(page_of(case)))
    assert (
        "Dossier prioritaire" in agent_page and "Interne : non visible par la famille" in agent_page
    )
    family_page = page_text(
        second_client(app, case.family).get(f"/famille/demandes/{case.demande_id}")
    )
    assert "Nous étudions votre dossier cette semaine." in family_page
    assert "Dossier prioritaire" not in family_page


def test_stale_claim_shows_the_conflict_and_changes_nothing(
    app: Flask, agent_client: FlaskClient, case: Case, db_session: Session, clock: FrozenClock,
    petite_enfance: Service,
) -> None:  # fmt: skip
    task = task_of(db_session, case)
    shown_version = task.row_version
    colleague = make_agent(db_session, clock, petite_enfance)
    assert (
        act_on_task(second_client(app, colleague), db_session, case, "prendre").status_code == 303
    )

    response = post(
        agent_client, f"{page_of(case)}/taches/{task.id}/prendre", {"version": shown_version}
    )

    assert response.status_code == 409
    page = page_text(response)
    assert CONFLICT in page and colleague.display_name in page
    assert task_of(db_session, case).assignee_id == colleague.id


def test_stale_completion_and_note_change_nothing(
    agent_client: FlaskClient, case: Case, db_session: Session
) -> None:
    act_on_task(agent_client, db_session, case, "prendre")
    task = task_of(db_session, case)
    stale_task, stale_demande = task.row_version, demande_version(db_session, case)
    act_on_task(agent_client, db_session, case, "liberer")
    act_on_task(agent_client, db_session, case, "prendre")
    post(agent_client, f"{page_of(case)}/commentaires", {"version": stale_demande, "texte": "Un"})

    completed = post(
        agent_client, f"{page_of(case)}/taches/{task.id}/terminer", {"version": stale_task}
    )
    noted = post(
        agent_client, f"{page_of(case)}/commentaires", {"version": stale_demande, "texte": "Deux"}
    )
    verdict = post(
        agent_client,
        f"{page_of(case)}/documents/{case.address.id}/valider",
        {"version": stale_demande},
    )

    assert (completed.status_code, noted.status_code, verdict.status_code) == (409, 409, 409)
    assert all(CONFLICT in page_text(r) for r in (completed, noted, verdict))
    assert task_of(db_session, case).state is TaskState.CLAIMED
    notes = db_session.scalars(
        select(DemandeEvent.comment).where(DemandeEvent.kind == "internal_note")
    ).all()
    assert notes == ["Un"]
    assert db_session.get(Document, case.address.id).state is DocumentState.DEPOSE  # type: ignore[union-attr]


def checked_types(page: str) -> set[str]:
    """The document types ticked in the "ask the family" form."""
    boxes = re.findall(
        r'<input type="checkbox"[^>]*name="justificatif" value="(\w+)"([^>]*)>', page
    )
    return {code for code, rest in boxes if "checked" in rest}


def test_the_declared_answers_show_by_their_labels(
    agent_client: FlaskClient, case: Case, db_session: Session
) -> None:
    act_on_task(agent_client, db_session, case, "prendre")
    act_on_task(agent_client, db_session, case, "terminer")
    act_on_task(agent_client, db_session, case, "prendre")

    page = page_text(agent_client.get(page_of(case)))

    assert re.search(r"Nombre de jours d'accueil par semaine</dt>\s*<dd[^>]*>\s*4 jours", page)
    assert "Inscrire en liste d'attente" in page and "Refuser la demande" in page


def test_asking_the_family_ticks_the_required_documents_not_validly_granted(
    agent_client: FlaskClient, case: Case, db_session: Session
) -> None:
    act_on_task(agent_client, db_session, case, "prendre")
    all_granted = page_text(agent_client.get(page_of(case)))
    post(
        agent_client,
        f"{page_of(case)}/documents/{case.address.id}/refuser",
        {"version": demande_version(db_session, case), "motif": "perime"},
    )

    page = page_text(agent_client.get(page_of(case)))

    assert 'value="justificatif_domicile"' in all_granted and checked_types(all_granted) == set()
    assert checked_types(page) == {"justificatif_domicile"}
    assert "Cochés : demandés par la démarche" in page


def test_a_refused_completion_shows_again_what_the_agent_typed(
    agent_client: FlaskClient, case: Case, db_session: Session
) -> None:
    act_on_task(agent_client, db_session, case, "prendre")
    act_on_task(agent_client, db_session, case, "terminer")
    act_on_task(agent_client, db_session, case, "prendre")

    response = act_on_task(
        agent_client, db_session, case, "terminer",
        motif="Dossier incomplet à la commission", commentaire="Voir la crèche des Lilas",
    )  # fmt: skip

    assert response.status_code == 422
    page = page_text(response)
    assert re.search(r'name="motif"[^>]*>Dossier incomplet à la commission</textarea>', page)
    assert re.search(r'name="commentaire"[^>]*>Voir la crèche des Lilas</textarea>', page)


def test_a_refused_request_to_the_family_keeps_what_the_agent_left(
    agent_client: FlaskClient, case: Case, db_session: Session
) -> None:
    act_on_task(agent_client, db_session, case, "prendre")
    post(
        agent_client,
        f"{page_of(case)}/documents/{case.address.id}/refuser",
        {"version": demande_version(db_session, case), "motif": "perime"},
    )

    # The agent unticked the pre-ticked document and wrote nothing: there is nothing to send.
    response = act_on_task(agent_client, db_session, case, "demander", message="   ")

    assert response.status_code == 422
    assert checked_types(page_text(response)) == set()
    assert task_of(db_session, case).state is TaskState.CLAIMED


def test_a_message_to_the_family_queues_an_email_to_each_of_its_accounts(
    agent_client: FlaskClient, case: Case, db_session: Session, clock: FrozenClock
) -> None:
    partner = make_account(db_session, clock, Role.FAMILLE, foyer_id=case.family.foyer_id)
    path = f"{page_of(case)}/commentaires"
    for text, to in (("Merci", "famille"), ("Note", "interne"), ("Encore merci", "famille")):
        version = demande_version(db_session, case)
        sent = post(agent_client, path, {"version": version, "texte": text, "destinataire": to})
        assert sent.status_code == 303

    queued = db_session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.template == AGENT_MESSAGE_TEMPLATE)
        .order_by(OutboxMessage.id)
    ).all()

    assert [m.recipient for m in queued] == [case.family.email, partner.email] * 2
    assert len({m.idempotency_key for m in queued}) == 4
    demande = db_session.get(Demande, case.demande_id)
    assert demande is not None
    subject, body = render(AGENT_MESSAGE_TEMPLATE, json.loads(queued[0].context))
    assert subject == f"Demande {demande.number} : le service vous a écrit"
    assert "« Pré-inscription en crèche »" in body
    assert f"/famille/demandes/{demande.id}" in body and "Merci" not in body
