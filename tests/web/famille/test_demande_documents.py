"""A request's documents as the family meets them (issue 25): a missing child's document added
from the request comes back ticked, every list says whose document it is, the recap says what
is missing before offering to submit, and the PAI on the child's file fills the form."""

# The fixtures imported from test_demandes are parameters of the tests here.
# ruff: noqa: F811

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from accounts.models import Account, Service
from coffre.clock import FrozenClock
from coffre.models import Document, FoyerMember, MemberRole
from demo.seed import demo_pdf
from procedures import catalogue
from procedures.models import Demande
from tests.factories import make_service, page_text
from tests.web.famille.test_demandes import (  # noqa: F401  (fixtures)
    ask_family,
    child,
    papers,
    petite_enfance,
    post,
    published,
    start,
    submitted,
)
from tests.web.famille.test_vault import documents_of, upload

CARNET = "Carnet de vaccination de l'enfant concerné"


def answer_the_form(client: FlaskClient, demande_id: int, child: FoyerMember) -> None:
    form = {"enfant": str(child.id), "date_entree": "2027-01-04", "jours": "4"}
    response = post(client, f"/famille/demandes/{demande_id}/formulaire", form)
    assert response.status_code == 303  # type: ignore[attr-defined]


def requirement(page: str, legend: str) -> str:
    """The HTML of the documents step's fieldset whose legend is `legend`."""
    for fieldset in re.findall(r"<fieldset.*?</fieldset>", page, re.S):
        if f'<legend class="fr-fieldset__legend">{legend}</legend>' in fieldset:
            return str(fieldset)
    raise AssertionError(f"no requirement {legend!r} on the page")


def add_button(fieldset: str) -> str:
    """The value of the requirement's "add a document" button (a submit of the step's form)."""
    found = re.search(r'name="ajouter" value="(\d+)">Ajouter un document à mon coffre', fieldset)
    assert found, fieldset
    return found.group(1)


def go_add(client: FlaskClient, demande_id: int, fieldset: str, ticked: list[int]) -> str:
    """Press the requirement's add button with these boxes ticked: the add page's address."""
    step = f"/famille/demandes/{demande_id}/justificatifs"
    response = post(client, step, {"partage": ticked, "ajouter": add_button(fieldset)})
    assert response.status_code == 303  # type: ignore[attr-defined]
    return str(response.headers["Location"])  # type: ignore[attr-defined]


def test_a_childs_document_added_from_the_request_is_for_that_child_and_comes_back_ticked(
    family_client: FlaskClient,
    published: None,
    child: FoyerMember,
    app: Flask,
    db_session: Session,
    family: Account,
) -> None:
    assert family.foyer_id is not None
    db_session.add(
        FoyerMember(
            foyer_id=family.foyer_id, role=MemberRole.ENFANT, first_name="Tom", last_name="Test"
        )
    )
    db_session.commit()
    demande_id = start(family_client)
    answer_the_form(family_client, demande_id, child)
    step = f"/famille/demandes/{demande_id}/justificatifs"
    carnet = requirement(page_text(family_client.get(step)), CARNET)
    assert "Votre coffre ne contient aucun document valide de ce type." in carnet

    link = go_add(family_client, demande_id, carnet, [])
    asked = page_text(family_client.get(link))
    query = {key: value[-1] for key, value in parse_qs(urlsplit(link).query).items()}
    response = upload(
        family_client, demo_pdf("carnet.pdf"), "carnet.pdf", path=link,
        type_code=query["type"], member_id=query["membre"], issued_on="2025-01-10",
    )  # fmt: skip

    assert re.search(r'<option (selected )?value="carnet_vaccination"( selected)?>', asked)
    assert re.search(rf'<option (selected )?value="{child.id}"( selected)?>Léa Test', asked)
    assert "Retour à ma demande" in asked
    documents = documents_of(db_session, family.foyer_id)
    (added,) = [d for d in documents if d.type_code == "carnet_vaccination"]
    assert added.member_id == child.id
    assert response.status_code == 303
    assert response.headers["Location"] == f"{step}?ajoute={added.id}"
    back = requirement(page_text(family_client.get(response.headers["Location"])), CARNET)
    assert re.search(rf'value="{added.id}" checked>', back)
    assert "aucun document valide" not in back
    assert "carnet.pdf — Léa Test" in back


def test_a_household_document_is_added_for_the_whole_household(
    family_client: FlaskClient, published: None, child: FoyerMember
) -> None:
    demande_id = start(family_client)
    answer_the_form(family_client, demande_id, child)
    page = page_text(family_client.get(f"/famille/demandes/{demande_id}/justificatifs"))

    link = go_add(family_client, demande_id, requirement(page, "Avis d'imposition"), [])

    assert "membre" not in parse_qs(urlsplit(link).query)
    assert re.search(r'<option (selected )?value=""( selected)?>Tout le foyer', page_text(
        family_client.get(link)
    ))  # fmt: skip


def test_a_document_added_while_answering_the_service_comes_back_ticked_in_the_answer(
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
    page = f"/famille/demandes/{demande_id}"
    link = re.findall(
        r'href="(/famille/coffre/ajouter\?[^"]+)"', page_text(family_client.get(page))
    )
    response = upload(family_client, demo_pdf("avis.pdf"), "avis.pdf", path=link[-1])
    answer = page_text(family_client.get(response.headers["Location"]))

    added = max(d.id for d in documents_of(db_session, child.foyer_id))
    assert response.headers["Location"] == f"{page}?ajoute={added}"
    assert re.search(rf'value="{added}" checked>', answer)
    assert "Avis d'imposition — Tout le foyer — avis.pdf" in answer
    assert not re.search(rf'value="{papers[0].id}" checked>', answer)


def test_the_boxes_ticked_before_adding_a_document_are_still_ticked_after(
    family_client: FlaskClient,
    published: None,
    child: FoyerMember,
    papers: list[Document],
    db_session: Session,
) -> None:
    demande_id = start(family_client)
    answer_the_form(family_client, demande_id, child)
    step = f"/famille/demandes/{demande_id}/justificatifs"
    avis = requirement(page_text(family_client.get(step)), "Avis d'imposition")

    link = go_add(family_client, demande_id, avis, [papers[0].id])
    response = upload(family_client, demo_pdf("avis-2.pdf"), "avis-2.pdf", path=link)
    back = page_text(family_client.get(response.headers["Location"]))

    added = max(d.id for d in documents_of(db_session, child.foyer_id))
    assert re.search(rf'value="{papers[0].id}" checked>', back)  # ticked before, kept
    assert re.search(rf'value="{added}" checked>', back)
    assert not re.search(rf'value="{papers[1].id}" checked>', back)


def test_every_list_of_documents_says_whose_document_it_is(
    family_client: FlaskClient, published: None, child: FoyerMember, papers: list[Document]
) -> None:
    demande_id = start(family_client)
    answer_the_form(family_client, demande_id, child)
    step = f"/famille/demandes/{demande_id}/justificatifs"
    post(family_client, step, {"partage": [d.id for d in papers]})

    documents_step = page_text(family_client.get(step))
    vault = page_text(family_client.get("/famille/coffre"))
    recap = page_text(family_client.get(f"/famille/demandes/{demande_id}/recapitulatif"))

    assert "facture.pdf — Tout le foyer — Émis le" in documents_step
    assert "— Léa Test — Émis le" in requirement(documents_step, CARNET)
    assert "Pour : Tout le foyer" in vault and "Pour : Léa Test" in vault
    assert "Voir — Carnet de vaccination, Léa Test" in re.sub(r"<[^>]+>", "", vault)
    assert "Carnet de vaccination — Léa Test — facture.pdf" in recap
    assert "Justificatif de domicile — Tout le foyer — facture.pdf" in recap


def test_the_recap_says_what_is_missing_and_offers_to_complete_it_not_to_submit(
    family_client: FlaskClient, published: None, child: FoyerMember, papers: list[Document]
) -> None:
    demande_id = start(family_client)
    answer_the_form(family_client, demande_id, child)
    post(family_client, f"/famille/demandes/{demande_id}/justificatifs", {"partage": []})

    recap = page_text(family_client.get(f"/famille/demandes/{demande_id}/recapitulatif"))

    missing = recap.index("Votre demande n'est pas complète")
    assert missing < recap.index("Vos informations")
    assert "Justificatif manquant, périmé ou non partagé : Avis d'imposition." in recap
    assert "Déposer ma demande" not in recap
    assert f'href="/famille/demandes/{demande_id}/justificatifs">Compléter mes justificatifs' in (
        recap
    )


def test_the_recap_of_a_complete_request_offers_to_submit_with_no_warning(
    family_client: FlaskClient,
    published: None,
    child: FoyerMember,
    papers: list[Document],
    db_session: Session,
) -> None:
    demande_id = start(family_client)
    answer_the_form(family_client, demande_id, child)
    shared = [d.id for d in papers]
    post(family_client, f"/famille/demandes/{demande_id}/justificatifs", {"partage": shared})

    recap = page_text(family_client.get(f"/famille/demandes/{demande_id}/recapitulatif"))

    assert "Votre demande n'est pas complète" not in recap
    assert "Déposer ma demande" in recap
    assert "Compléter mes justificatifs" not in recap
    demande = db_session.get(Demande, demande_id)
    assert demande is not None and demande.number is None  # looking at the recap sends nothing


def test_a_document_deleted_after_being_ticked_is_said_missing_on_the_recap(
    family_client: FlaskClient, published: None, child: FoyerMember, papers: list[Document]
) -> None:
    demande_id = start(family_client)
    answer_the_form(family_client, demande_id, child)
    shared = [d.id for d in papers]
    post(family_client, f"/famille/demandes/{demande_id}/justificatifs", {"partage": shared})
    post(family_client, f"/famille/coffre/{papers[1].id}/supprimer")

    recap = family_client.get(f"/famille/demandes/{demande_id}/recapitulatif")

    assert recap.status_code == 200
    assert "Justificatif manquant, périmé ou non partagé : Avis d'imposition." in page_text(recap)


@pytest.fixture
def periscolaire(db_session: Session, clock: FrozenClock) -> Service:
    service = make_service(db_session, code="scolaire")
    definition, bpmn = catalogue.read_built_in("periscolaire")
    catalogue.publish(db_session, clock, definition, bpmn, None)
    db_session.commit()
    return service


@pytest.fixture
def hugo(db_session: Session, family: Account) -> FoyerMember:
    """A child whose file records a PAI and the allergies it covers."""
    assert family.foyer_id is not None
    member = FoyerMember(
        foyer_id=family.foyer_id, role=MemberRole.ENFANT, first_name="Hugo", last_name="Test",
        has_pai=True, allergies="Arachide et fruits à coque",
    )  # fmt: skip
    db_session.add(member)
    db_session.commit()
    return member


def start_periscolaire(client: FlaskClient) -> str:
    response = post(client, "/famille/demarches/periscolaire/commencer")
    location = response.headers["Location"]  # type: ignore[attr-defined]
    assert location.endswith("/formulaire")
    return str(location)


def test_the_pai_on_the_childs_file_fills_the_registration_form_to_be_checked(
    family_client: FlaskClient, periscolaire: Service, hugo: FoyerMember, db_session: Session
) -> None:
    form_page = start_periscolaire(family_client)

    chosen = post(
        family_client, form_page, {"enfant": str(hugo.id), "cantine": "oui", "action": "continuer"}
    )
    shown = page_text(family_client.get(form_page))

    assert chosen.headers["Location"] == form_page  # type: ignore[attr-defined]
    assert "Le PAI inscrit sur la fiche de votre enfant a été repris" in shown
    assert re.search(r'id="champ-allergies" name="allergies" value="oui" checked>', shown)
    assert re.search(r'name="allergies_precisions">Arachide et fruits à coque</textarea>', shown)

    went_on = post(
        family_client, form_page,
        {"enfant": str(hugo.id), "cantine": "oui", "allergies": "oui",
         "allergies_precisions": "Arachide et fruits à coque", "action": "continuer"},
    )  # fmt: skip

    assert went_on.headers["Location"].endswith("/justificatifs")  # type: ignore[attr-defined]
    demande_id = int(re.findall(r"\d+", form_page)[-1])
    demande = db_session.get(Demande, demande_id)
    assert demande is not None
    db_session.refresh(demande)
    assert json.loads(demande.form_data)["allergies_precisions"] == "Arachide et fruits à coque"


def test_a_pai_the_family_unticked_for_the_chosen_child_stays_unticked(
    family_client: FlaskClient, periscolaire: Service, hugo: FoyerMember, db_session: Session
) -> None:
    form_page = start_periscolaire(family_client)
    post(family_client, form_page, {"enfant": str(hugo.id), "action": "continuer"})

    again = post(family_client, form_page, {"enfant": str(hugo.id), "action": "continuer"})

    assert again.headers["Location"].endswith("/justificatifs")  # type: ignore[attr-defined]
    demande_id = int(re.findall(r"\d+", form_page)[-1])
    demande = db_session.get(Demande, demande_id)
    assert demande is not None
    db_session.refresh(demande)
    assert json.loads(demande.form_data)["allergies"] == ""


def test_a_child_without_a_pai_goes_straight_on(
    family_client: FlaskClient, periscolaire: Service, child: FoyerMember
) -> None:
    form_page = start_periscolaire(family_client)

    response = post(family_client, form_page, {"enfant": str(child.id), "action": "continuer"})

    assert response.headers["Location"].endswith("/justificatifs")  # type: ignore[attr-defined]


def test_a_pai_answer_the_family_typed_is_kept(
    family_client: FlaskClient, periscolaire: Service, hugo: FoyerMember, db_session: Session
) -> None:
    form_page = start_periscolaire(family_client)
    typed = {"enfant": str(hugo.id), "allergies": "oui", "allergies_precisions": "Lait"}

    response = post(family_client, form_page, {**typed, "action": "continuer"})

    assert response.headers["Location"].endswith("/justificatifs")  # type: ignore[attr-defined]
    demande = db_session.get(Demande, int(re.findall(r"\d+", form_page)[-1]))
    assert demande is not None
    db_session.refresh(demande)
    assert json.loads(demande.form_data)["allergies_precisions"] == "Lait"
