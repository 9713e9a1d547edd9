"""A new procedure made in the designer, in headless Chromium, to a demande an agent completes.

The administrator imports a diagram holding a sub-process with a check per child, a reminder
after 5 working days, a called procedure, a business rule task and a wait for the family's
answer; builds the family's form and a step's form in the form builder (form-js), adds the
decision table in the DMN editor (dmn-js), maps its lane, and publishes after the policy check
has refused it twice, naming the step without a deadline each time. The family then files a
demande for two children in the browser, the agent completes each check, the family answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accounts.credentials import find_account
from accounts.models import Service
from procedures import catalogue, tasks
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.models import Demande, DemandeStatus, Task, TaskState
from procedures.tasks import AgentActor
from tests.web.agents import sign_in_agent_in_browser
from tests.web.browser import ARTIFACTS, Portal, serve_portal, unexpected
from web.runtime import runtime

EXAMPLES = Path(__file__).parents[2] / "procedures" / "bpmn" / "examples"
ADMIN = "admin@bellerive.example"
FAMILY = "famille.martin@bellerive.example"
CODE = "aide_activites"
DESIGNER = f"/admin/procedures/{CODE}/concepteur"
FAMILY_FORM = """() => {
  const editor = window.portailDesigner.forms.editor();
  const root = editor.get("formFieldRegistry").get(editor.getSchema().id);
  const modeling = editor.get("modeling");
  modeling.addFormField({type: "checklist", key: "enfants", label: "Enfants concernés",
    values: [], properties: {enfants_du_foyer: "oui"}, validate: {required: true}}, root, 0);
  modeling.addFormField({type: "number", key: "quotient", label: "Quotient familial, en euros",
    validate: {required: true}}, root, 1);
}"""
STEP_FORM = """() => {
  const editor = window.portailDesigner.forms.editor();
  const root = editor.get("formFieldRegistry").get(editor.getSchema().id);
  editor.get("modeling").addFormField(
    {type: "checkbox", key: "inscrit", label: "Inscription vérifiée"}, root, 0);
}"""
# What a click on the element does (the steps inside the sub-process are on its own plane).
SELECT = """(id) => window.portailDesigner.panel.select(id)"""
DECISIONS = """(xml) => window.portailDesigner.decisions.modeler().importXML(xml)
  .then(() => window.portailDesigner.decisions.modeler().getViews()
    .filter((view) => view.type === "decisionTable").length)"""


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    """The demo portal on the embedded deployment: what this test proves is the pages' (the
    stores are the demande services', proved on each deployment in test_more_bpmn)."""
    with serve_portal(tmp_path / "var") as served:
        yield served


def deadline(page: Any, step: str, hours: str) -> None:
    """Select the step in the diagram and set its deadline in the properties panel."""
    page.evaluate(SELECT, step)
    page.locator(f"#designer-proprietes[data-element={step}]").wait_for()
    page.get_by_label("Délai de traitement, en heures ouvrées").fill(hours)
    page.get_by_label("Délai de traitement, en heures ouvrées").press("Tab")  # "change"


def save(page: Any) -> None:
    """Click "save" and wait for the server's answer to be shown."""
    with page.expect_response("**/brouillon") as answered:
        page.get_by_role("button", name="Enregistrer le brouillon").click()
    assert answered.value.ok
    page.locator("#designer-etat", has_text="Brouillon enregistré").wait_for()


def publish(page: Any) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Publier le brouillon").click()


def refusal(page: Any) -> str:
    return str(page.locator(".fr-alert--error, .fr-notice, [role=alert]").all_inner_texts())


@pytest.mark.browser
def test_an_administrator_builds_publishes_and_a_family_files_a_new_procedure(
    portal: Portal, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="fr-FR")
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    sign_in_agent_in_browser(page, portal.url, portal.app, ADMIN)

    # A diagram from the designer's library becomes the draft of a new procedure.
    page.goto(portal.url + "/admin/procedures/import")
    page.get_by_label("Code de la démarche").fill(CODE)
    page.get_by_label("Fichier BPMN 2.0").set_input_files(str(EXAMPLES / f"{CODE}.bpmn"))
    page.get_by_role("button", name="Importer").click()
    page.wait_for_url(portal.url + DESIGNER)
    page.wait_for_selector("#designer-canvas[data-ready=true]")
    page.wait_for_selector("#designer-formulaire[data-form=famille]")
    assert page.locator(".djs-element[data-element-id=verification]").count() == 1

    # The forms, in the form builder; the decision table, in the DMN editor.
    page.evaluate(FAMILY_FORM)
    page.select_option("#designer-formulaire-choix", "verifier_enfant")
    page.wait_for_selector("#designer-formulaire[data-form=verifier_enfant]")
    page.evaluate(STEP_FORM)
    page.get_by_role("button", name="Ajouter des tables de décision").click()
    page.wait_for_selector("#designer-decisions[data-ready=true]")
    assert page.evaluate(DECISIONS, (EXAMPLES / f"{CODE}.dmn").read_text()) == 1
    # The lane's service, in the properties panel.
    page.evaluate(SELECT, "Lane_scolaire")
    page.locator("#designer-proprietes[data-element=Lane_scolaire]").wait_for()
    page.get_by_label("Service qui traite ce couloir").select_option("scolaire")
    metadata = page.locator("#designer-metadonnees")
    save(page)
    page.locator("#designer-problemes", has_text="Aucun problème trouvé.").wait_for()
    saved = metadata.input_value()
    assert 'name = "enfants"' in saved and 'type = "children"' in saved
    assert '[[tasks.verifier_enfant.form]]\nname = "inscrit"' in saved
    page.screenshot(path=str(ARTIFACTS / "nouvelle-demarche-concepteur.png"), full_page=True)

    # Refused twice, each time naming the step without a deadline.
    publish(page)
    assert "« Vérifier l'inscription de l'enfant » : aucun délai de traitement" in refusal(page)
    page.wait_for_selector("#designer-canvas[data-ready=true]")
    deadline(page, "verifier_enfant", "16")
    save(page)
    publish(page)
    assert "« Contrôler les justificatifs » : aucun délai de traitement" in refusal(page)
    page.wait_for_selector("#designer-canvas[data-ready=true]")
    deadline(page, "controler_pieces", "16")
    save(page)
    page.get_by_role("button", name="Publier le brouillon").click()
    page.wait_for_url(portal.url + f"/admin/procedures/{CODE}")
    assert f"La version 1 de {CODE} est publiée." in page.content()
    assert unexpected(console) == []
    context.close()

    demande_id = family_files(portal, browser)
    agent_and_family_finish(portal, demande_id)
    with runtime(portal.app).sessions() as session:
        version = catalogue.current_version(session, CODE)
        assert version is not None and "montant_aide" in version.dmn_xml


def family_files(portal: Portal, browser: Any) -> int:
    """The Martin family files the new procedure for its children, on a phone."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    page = context.new_page()
    page.goto(portal.url + "/connexion")
    page.get_by_label("Adresse électronique").fill(FAMILY)
    page.get_by_label("Mot de passe").fill("bellerive-demo-2026")
    page.get_by_role("button", name="Se connecter").click()
    page.goto(portal.url + "/famille/demarches")
    page.get_by_role("button", name="Commencer — Aide aux activités").click()
    page.wait_for_url("**/formulaire")
    boxes = page.locator("input[type=checkbox][name=enfants]")
    assert boxes.count() >= 1
    for index in range(boxes.count()):  # the DSFR draws the box on the label
        page.locator(f"label[for='{boxes.nth(index).get_attribute('id')}']").click()
        assert boxes.nth(index).is_checked()
    page.get_by_label("Quotient familial, en euros").fill("540")
    page.screenshot(path=str(ARTIFACTS / "nouvelle-demarche-famille.png"), full_page=True)
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**/justificatifs")
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**/recapitulatif")
    page.get_by_role("button", name="Déposer ma demande").click()
    page.wait_for_url("**/confirmation")
    demande_id = int(page.url.rsplit("/", 2)[-2])
    context.close()
    return demande_id


def agent_and_family_finish(portal: Portal, demande_id: int) -> None:
    """The school service completes each child's check and the called control; the family
    confirms; the demande is accepted with the amount the decision table gave."""
    rt = runtime(portal.app)
    ctx = EngineContext(clock=rt.clock, vault=rt.vault)
    with rt.sessions() as session:
        agent = find_account(session, "agent.ecoles@bellerive.example")
        family = find_account(session, FAMILY)
        service = session.scalar(select(Service).where(Service.code == "scolaire"))
        assert agent is not None and family is not None and service is not None
        actor = AgentActor(agent.id, frozenset({service.id}))
        checks = live(session, demande_id)
        assert all(
            task.title.startswith("Vérifier l'inscription de l'enfant — ") for task in checks
        )
        for _round in range(2):  # each child's check, then the called procedure's control
            for task in live(session, demande_id):
                tasks.claim(session, ctx, actor, task.id)
                tasks.complete(session, ctx, actor, task.id, {"inscrit": "oui"})
        [answer] = live(session, demande_id)
        assert answer.for_family and answer.spec_id == "confirmation_recue"
        assert family.foyer_id is not None
        tasks.complete_for_family(
            session, ctx, FamilyActor(family.id, family.foyer_id), answer.id, {}
        )
        demande = session.get(Demande, demande_id)
        assert demande is not None
        assert demande.status is DemandeStatus.CLASSEE  # the import mapped every end to it


def live(session: Any, demande_id: int) -> list[Task]:
    query = select(Task).where(
        Task.demande_id == demande_id, Task.state.in_([TaskState.OPEN, TaskState.CLAIMED])
    )
    return list(session.scalars(query.order_by(Task.id)))
