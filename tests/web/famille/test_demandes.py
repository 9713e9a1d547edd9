"""The family's demandes pages: catalogue, form, documents with consent, follow-up."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import Account, Role, Service
from coffre.clock import FrozenClock
from coffre.models import Document, FoyerMember, Grant, MemberRole
from demo.seed import demo_pdf
from procedures import catalogue, tasks
from procedures.definitions import FAMILY_LANE
from procedures.history import EngineContext, record_event
from procedures.models import Demande, DemandeStatus, Task, TaskState
from procedures.tasks import AgentActor
from tests.factories import make_account, make_service, page_text
from tests.procedures.bpmn.test_budget import COPYING, SCRIPT_NAME, hostile_creche
from tests.procedures.flows import publish, work
from tests.web.auth.test_login import csrf_token, log_in
from tests.web.conftest import deposit
from tests.web.famille.test_vault import upload
from web.runtime import runtime


@pytest.fixture
def petite_enfance(db_session: Session) -> Service:
    service = make_service(db_session, code="petite-enfance")
    service.name = "Service petite enfance"
    db_session.commit()
    return service


@pytest.fixture
def published(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> None:
    definition, bpmn = catalogue.read_built_in("creche")
    catalogue.publish(db_session, clock, definition, bpmn, None)
    db_session.commit()


@pytest.fixture
def child(db_session: Session, family: Account) -> FoyerMember:
    assert family.foyer_id is not None
    member = FoyerMember(
        foyer_id=family.foyer_id, role=MemberRole.ENFANT, first_name="Léa", last_name="Test"
    )
    db_session.add(member)
    db_session.commit()
    return member


@pytest.fixture
def papers(app: Flask, db_session: Session, family: Account, child: FoyerMember) -> list[Document]:
    foyer_id = family.foyer_id
    assert foyer_id is not None
    return [
        deposit(app, db_session, foyer_id, "justificatif_domicile", issued_on=date(2026, 8, 1)),
        deposit(app, db_session, foyer_id, "avis_imposition", issued_on=date(2026, 4, 15)),
        deposit(
            app, db_session, foyer_id, "carnet_vaccination",
            issued_on=date(2025, 1, 10), member_id=child.id,
        ),
    ]  # fmt: skip


def post(client: FlaskClient, path: str, data: dict[str, object] | None = None) -> object:
    values: dict[str, object] = {"csrf_token": csrf_token(client, "/famille/")}
    values.update(data or {})
    return client.post(path, data=values)


def start(client: FlaskClient) -> int:
    response = post(client, "/famille/demarches/creche/commencer")
    assert response.status_code == 303  # type: ignore[attr-defined]
    location = response.headers["Location"]  # type: ignore[attr-defined]
    match = re.search(r"/famille/demandes/(\d+)/formulaire", location)
    assert match
    return int(match.group(1))


def fill(client: FlaskClient, demande_id: int, child: FoyerMember, shared: list[int]) -> None:
    form = {
        "enfant": str(child.id),
        "date_entree": "2027-01-04",
        "jours": "4",
        "action": "continuer",
    }
    response = post(client, f"/famille/demandes/{demande_id}/formulaire", form)
    assert response.status_code == 303  # type: ignore[attr-defined]
    response = post(client, f"/famille/demandes/{demande_id}/justificatifs", {"partage": shared})
    assert response.status_code == 303  # type: ignore[attr-defined]


def submitted(client: FlaskClient, child: FoyerMember, papers: list[Document]) -> int:
    demande_id = start(client)
    fill(client, demande_id, child, [d.id for d in papers])
    response = post(client, f"/famille/demandes/{demande_id}/deposer")
    assert response.status_code == 303  # type: ignore[attr-defined]
    return demande_id


def test_catalogue_shows_requirements_and_what_the_vault_holds(
    family_client: FlaskClient, published: None, app: Flask, db_session: Session, family: Account
) -> None:
    assert family.foyer_id is not None
    deposit(app, db_session, family.foyer_id, "avis_imposition", issued_on=date(2026, 4, 15))

    page = page_text(family_client.get("/famille/demarches"))

    assert "Pré-inscription en crèche" in page
    assert "Date d'entrée souhaitée" in page
    assert re.search(r"Avis d'imposition[^<]*— <strong>déjà dans votre coffre", page)
    assert "Justificatif de domicile de moins de 3 mois — absent de votre coffre" in page
    assert "fr-summary" not in page  # one procedure: no list to jump from


def test_the_whole_catalogue_opens_on_a_list_that_leads_to_each_procedure(
    family_client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    services = {
        service
        for code in catalogue.built_in_codes()
        for service in catalogue.read_built_in(code)[0].lanes.values()
        if service != FAMILY_LANE
    }
    for service in sorted(services):
        make_service(db_session, code=service)
    for code in catalogue.built_in_codes():
        publish(db_session, clock, code)

    page = page_text(family_client.get("/famille/demarches"))

    jumps = re.findall(r'<a class="fr-summary__link" href="#demarche-([a-z_]+)">', page)
    assert sorted(jumps) == sorted(catalogue.built_in_codes())
    assert all(f'<h2 id="demarche-{code}">' in page for code in jumps)  # each lands on its card


def test_full_path_from_draft_to_confirmation(
    family_client: FlaskClient,
    published: None,
    child: FoyerMember,
    papers: list[Document],
    db_session: Session,
) -> None:
    demande_id = start(family_client)
    form_page = page_text(family_client.get(f"/famille/demandes/{demande_id}/formulaire"))
    assert "Léa Test" in form_page and 'type="radio"' in form_page

    fill(family_client, demande_id, child, [d.id for d in papers])
    documents_page = page_text(family_client.get(f"/famille/demandes/{demande_id}/justificatifs"))
    assert (
        "Je partage ce document avec le service Service petite enfance pour cette demande"
        in documents_page
    )
    summary = page_text(family_client.get(f"/famille/demandes/{demande_id}/recapitulatif"))
    assert "Déposer ma demande" in summary

    response = post(family_client, f"/famille/demandes/{demande_id}/deposer")
    assert response.status_code == 303  # type: ignore[attr-defined]
    demande = db_session.get(Demande, demande_id)
    assert demande is not None
    db_session.refresh(demande)
    assert demande.status is not DemandeStatus.BROUILLON and demande.number
    confirmation = page_text(family_client.get(f"/famille/demandes/{demande_id}/confirmation"))
    assert demande.number in confirmation


def test_submitting_without_consent_lists_the_missing_document_and_shares_nothing(
    family_client: FlaskClient,
    published: None,
    child: FoyerMember,
    papers: list[Document],
    db_session: Session,
) -> None:
    demande_id = start(family_client)
    fill(family_client, demande_id, child, [papers[0].id, papers[2].id])

    response = post(family_client, f"/famille/demandes/{demande_id}/deposer")

    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "Justificatif manquant" in page_text(response)  # type: ignore[arg-type]
    assert "Avis d'imposition" in page_text(response)  # type: ignore[arg-type]
    assert db_session.scalars(select(Grant).where(Grant.demande_id == demande_id)).all() == []


def test_my_requests_and_the_detail_hide_internal_notes_and_agent_names(
    family_client: FlaskClient,
    published: None,
    child: FoyerMember,
    papers: list[Document],
    db_session: Session,
    clock: FrozenClock,
    app: Flask,
) -> None:
    demande_id = submitted(family_client, child, papers)
    demande = db_session.get(Demande, demande_id)
    assert demande is not None
    db_session.refresh(demande)
    agent = make_account(db_session, clock, Role.AGENT, display_name="Agathe Instructrice")
    ctx = EngineContext(clock=clock, vault=runtime(app).vault)
    record_event(db_session, ctx, demande, agent.id, "note", "Note interne secrète", internal=True)
    db_session.commit()

    listing = page_text(family_client.get("/famille/demandes"))
    assert demande.number is not None and demande.number in listing
    assert "Pré-inscription en crèche" in listing and "Déposée" in listing

    detail = page_text(family_client.get(f"/famille/demandes/{demande_id}"))
    assert "Note interne secrète" not in detail
    assert "Agathe" not in detail
    assert "Service petite enfance" in detail
    assert "Vous avez déposé votre demande." in detail
    answers = detail[detail.index("Vos réponses") :]
    assert "Léa Test" in answers and "4 janvier 2027" in answers and "4 jours" in answers


def ask_family(
    db_session: Session, clock: FrozenClock, app: Flask, service: Service, demande_id: int
) -> None:
    agent = make_account(db_session, clock, Role.AGENT)
    actor = AgentActor(agent.id, frozenset({service.id}))
    ctx = EngineContext(clock=clock, vault=runtime(app).vault)
    task = db_session.scalars(
        select(Task).where(Task.demande_id == demande_id, Task.state == TaskState.OPEN)
    ).one()
    tasks.claim(db_session, ctx, actor, task.id)
    tasks.ask_family(db_session, ctx, actor, task.id, "Merci d'envoyer un RIB.", [])


def offer_a_place(
    db_session: Session, clock: FrozenClock, app: Flask, service: Service, demande_id: int
) -> None:
    """The service checks the file, then offers a place, as its agent would."""
    actor = AgentActor(make_account(db_session, clock, Role.AGENT).id, frozenset({service.id}))
    ctx = EngineContext(clock=clock, vault=runtime(app).vault)
    demande = db_session.get(Demande, demande_id)
    assert demande is not None
    for data in ({}, {"decision": "place", "motif": ""}):
        demande = work(db_session, ctx, actor, demande, data)


def test_answering_the_agent_resumes_the_demande(
    family_client: FlaskClient,
    published: None,
    child: FoyerMember,
    papers: list[Document],
    db_session: Session,
    clock: FrozenClock,
    app: Flask,
    petite_enfance: Service,
) -> None:
    demande_id = submitted(family_client, child, papers)
    ask_family(db_session, clock, app, petite_enfance, demande_id)
    detail = page_text(family_client.get(f"/famille/demandes/{demande_id}"))
    assert "Merci d'envoyer un RIB." in detail and "Répondre au service" in detail

    response = post(family_client, f"/famille/demandes/{demande_id}/repondre", {"message": "Voici"})

    assert response.status_code == 303  # type: ignore[attr-defined]
    demande = db_session.get(Demande, demande_id)
    assert demande is not None
    db_session.refresh(demande)
    assert demande.status is DemandeStatus.EN_INSTRUCTION


def test_cancel_and_revoke_consent(
    family_client: FlaskClient,
    published: None,
    child: FoyerMember,
    papers: list[Document],
    db_session: Session,
) -> None:
    demande_id = submitted(family_client, child, papers)

    response = post(
        family_client, f"/famille/demandes/{demande_id}/documents/{papers[1].id}/retirer"
    )
    assert response.status_code == 303  # type: ignore[attr-defined]
    grant = db_session.scalars(
        select(Grant).where(Grant.demande_id == demande_id, Grant.document_id == papers[1].id)
    ).one()
    db_session.refresh(grant)
    assert grant.revoked_at is not None

    response = post(family_client, f"/famille/demandes/{demande_id}/annuler")
    assert response.status_code == 303  # type: ignore[attr-defined]
    demande = db_session.get(Demande, demande_id)
    assert demande is not None
    db_session.refresh(demande)
    assert demande.status is DemandeStatus.ANNULEE
    assert "Annulée" in page_text(family_client.get("/famille/demandes"))


def test_another_familys_demande_is_not_found_on_every_route(
    client: FlaskClient,
    published: None,
    child: FoyerMember,
    papers: list[Document],
    family: Account,
    db_session: Session,
    clock: FrozenClock,
) -> None:
    assert log_in(client, family.email).status_code == 302
    submitted_id = submitted(client, child, papers)
    draft_id = start(client)
    client.post("/deconnexion", data={"csrf_token": csrf_token(client, "/famille/")})
    client.delete_cookie("session")
    other = make_account(db_session, clock, Role.FAMILLE)
    assert log_in(client, other.email).status_code == 302

    for demande_id in (submitted_id, draft_id):
        for path in ("", "/formulaire", "/justificatifs", "/recapitulatif", "/confirmation"):
            assert client.get(f"/famille/demandes/{demande_id}{path}").status_code == 404
        for path in (
            "/formulaire", "/justificatifs", "/deposer", "/repondre", "/annuler",
            f"/documents/{papers[0].id}/retirer", "/etape/1",
        ):  # fmt: skip
            assert post(client, f"/famille/demandes/{demande_id}{path}").status_code == 404  # type: ignore[attr-defined]


def test_the_family_accepts_the_offered_place_from_the_detail_page(
    family_client: FlaskClient,
    published: None,
    child: FoyerMember,
    papers: list[Document],
    db_session: Session,
    clock: FrozenClock,
    app: Flask,
    petite_enfance: Service,
) -> None:
    demande_id = submitted(family_client, child, papers)
    offer_a_place(db_session, clock, app, petite_enfance, demande_id)
    offer = db_session.scalars(
        select(Task).where(Task.demande_id == demande_id, Task.for_family.is_(True))
    ).one()
    detail = page_text(family_client.get(f"/famille/demandes/{demande_id}"))
    assert "Accepter" in detail and "Refuser" in detail

    response = post(
        family_client, f"/famille/demandes/{demande_id}/etape/{offer.id}", {"reponse": "acceptee"}
    )

    assert response.status_code == 303  # type: ignore[attr-defined]
    demande = db_session.get(Demande, demande_id)
    assert demande is not None
    db_session.refresh(demande)
    assert demande.status is DemandeStatus.ACCEPTEE
    assert "Annuler ma demande" not in page_text(
        family_client.get(f"/famille/demandes/{demande_id}")
    )


def test_the_detail_links_the_towns_attestation_named_after_the_number(
    family_client: FlaskClient,
    published: None,
    child: FoyerMember,
    papers: list[Document],
    db_session: Session,
    app: Flask,
    family: Account,
) -> None:
    demande_id = submitted(family_client, child, papers)
    demande = db_session.get(Demande, demande_id)
    assert demande is not None and family.foyer_id is not None
    db_session.refresh(demande)
    attestation = deposit(
        app, db_session, family.foyer_id, "attestation_mairie",
        issued_on=date(2026, 9, 1), filename=f"attestation-{demande.number}.pdf",
    )  # fmt: skip

    detail = page_text(family_client.get(f"/famille/demandes/{demande_id}"))

    assert "Documents délivrés par la mairie" in detail
    assert f'href="/famille/coffre/{attestation.id}/voir"' in detail


def test_the_form_and_the_summary_show_each_choice_by_its_label(
    family_client: FlaskClient, db_session: Session, clock: FrozenClock, child: FoyerMember
) -> None:
    make_service(db_session, code="accueil-mq")
    definition, bpmn = catalogue.read_built_in("signalement")
    catalogue.publish(db_session, clock, definition, bpmn, None)
    db_session.commit()
    response = post(family_client, "/famille/demarches/signalement/commencer")
    form_path = response.headers["Location"]  # type: ignore[attr-defined]
    demande_id = int(re.findall(r"\d+", form_path)[-1])

    form_page = page_text(family_client.get(form_path))
    answers = {
        "nature": "perte_carte",
        "enfant": str(child.id),
        "date_debut": "2026-09-01",
        "action": "continuer",
    }
    post(family_client, form_path, answers)
    post(family_client, f"/famille/demandes/{demande_id}/justificatifs")
    summary = page_text(family_client.get(f"/famille/demandes/{demande_id}/recapitulatif"))

    assert re.search(
        r'value="perte_carte">\s*<label[^>]*>La perte de la carte d\'accès<', form_page
    )
    assert "La perte de la carte d'accès" in summary
    assert "perte_carte" not in summary


def test_the_familys_answer_buttons_show_the_declared_labels(
    family_client: FlaskClient,
    published: None,
    child: FoyerMember,
    papers: list[Document],
    db_session: Session,
    clock: FrozenClock,
    app: Flask,
    petite_enfance: Service,
) -> None:
    demande_id = submitted(family_client, child, papers)
    offer_a_place(db_session, clock, app, petite_enfance, demande_id)

    detail = page_text(family_client.get(f"/famille/demandes/{demande_id}"))

    assert re.search(r'value="acceptee">\s*Accepter la place\s*</button>', detail)
    assert re.search(r'value="refusee">\s*Refuser la place\s*</button>', detail)


@pytest.mark.parametrize(
    ("retour", "lands_on"),
    [
        # Back on the request, the new document is ticked (?ajoute=).
        ("/famille/demandes/{id}/justificatifs", "/famille/demandes/{id}/justificatifs?ajoute="),
        ("/famille/demandes/{id}", "/famille/demandes/{id}?ajoute="),
        ("//evil.example/famille/demandes/{id}", "/famille/coffre"),
        ("https://evil.example/", "/famille/coffre"),
        ("/famille/demandes/{id}/../../coffre/1/supprimer", "/famille/coffre"),
    ],
    ids=["documents-step", "request-page", "other-host", "absolute-url", "dot-dot"],
)
def test_a_deposit_started_from_a_request_goes_back_to_it_and_nowhere_else(
    family_client: FlaskClient,
    published: None,
    retour: str,
    lands_on: str,
    db_session: Session,
) -> None:
    demande_id = start(family_client)
    path = "/famille/coffre/ajouter?" + urlencode({"retour": retour.format(id=demande_id)})

    asked = page_text(family_client.get(path + "&type=justificatif_domicile"))
    response = upload(
        family_client, demo_pdf("domicile.pdf"), path=path, type_code="justificatif_domicile"
    )

    assert re.search(r'<option selected value="justificatif_domicile"', asked) or re.search(
        r'<option value="justificatif_domicile" selected', asked
    )
    assert response.status_code == 303
    added = db_session.scalars(select(func.max(Document.id))).one()
    expected = lands_on.format(id=demande_id) + (str(added) if "ajoute" in lands_on else "")
    assert response.headers["Location"] == expected


@pytest.mark.parametrize(
    ("script", "said", "logged"),
    [
        (
            COPYING,
            "la démarche dépasse sa limite de calcul. Rien n'a été enregistré",
            "diagram over its run budget",
        ),
        (
            "bareme = tarif + 1",
            f"la démarche s'arrête à « {SCRIPT_NAME} » (le script ne peut pas s'exécuter : "
            "aucune réponse ni variable ne s'appelle « tarif »",
            "diagram fault at element",
        ),
    ],
    ids=["past-its-budget", "diagram-fault"],
)
def test_a_procedure_that_cannot_run_fails_the_submit_in_french_and_keeps_the_draft(
    family_client: FlaskClient,
    petite_enfance: Service,
    child: FoyerMember,
    papers: list[Document],
    db_session: Session,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
    script: str,
    said: str,
    logged: str,
) -> None:
    definition, _bpmn = catalogue.read_built_in("creche")
    catalogue.publish(db_session, clock, definition, hostile_creche(script), None)
    db_session.commit()
    demande_id = start(family_client)
    fill(family_client, demande_id, child, [d.id for d in papers])

    response = post(family_client, f"/famille/demandes/{demande_id}/deposer")

    assert response.status_code == 500  # type: ignore[attr-defined]
    text = page_text(response).replace("&#39;", "'")  # type: ignore[arg-type]
    assert said in text and "Rien n'a été enregistré" in text and "Error" not in text
    assert logged in caplog.text and child.first_name not in caplog.text
    demande = db_session.get(Demande, demande_id)
    assert demande is not None
    db_session.refresh(demande)
    assert demande.status is DemandeStatus.BROUILLON and demande.workflow_state is None


def test_past_its_retention_a_closed_request_shows_its_answers_erased_not_its_documents_lost(
    app: Flask,
    family_client: FlaskClient,
    published: None,
    child: FoyerMember,
    papers: list[Document],
    clock: FrozenClock,
) -> None:
    demande_id = submitted(family_client, child, papers)
    assert post(family_client, f"/famille/demandes/{demande_id}/annuler").status_code == 303  # type: ignore[attr-defined]
    runner = app.test_cli_runner()
    clock.advance(timedelta(days=1826))

    listed = runner.invoke(args=["procedures", "retention", "--dry-run"])
    page_before = page_text(family_client.get(f"/famille/demandes/{demande_id}"))
    erased = runner.invoke(args=["procedures", "retention"])
    again = runner.invoke(args=["procedures", "retention", "--dry-run"])

    assert listed.exit_code == 0, listed.output
    assert "creche" in listed.output and "conservée 1825 jours  anonymiser" in listed.output
    assert "1 demande(s) à effacer au prochain passage." in listed.output
    assert "4 jours" in page_before  # the dry run erased nothing
    assert erased.exit_code == 0 and "1 demande(s) effacée(s)." in erased.output
    assert "0 demande(s) à effacer" in again.output
    page = page_text(family_client.get(f"/famille/demandes/{demande_id}"))
    assert "les réponses et l'historique de cette demande ont été effacés" in page
    assert "4 jours" not in page
    vault = page_text(family_client.get("/famille/coffre"))
    assert all(paper.original_name in vault for paper in papers)
