"""A new procedure built in the designer from an empty diagram, in headless Chromium, to a
demande an agent completes.

The administrator creates the procedure (an empty diagram: the town's pool, one lane, the
start event) and builds it in the modeler with what its palette, context pad and replace
menu do (bpmn-js's modeling API, the commands those clicks run): a business rule task, an
expanded sub-process with a check per child (parallel multi-instance) and a non-interrupting
reminder after 5 working days, a gateway whose conditions read the decision's output, two
ends. The properties panel sets the rest: the collection the check runs over, the decision
table, the timer, the conditions, the status each end gives, the lane's service, the
deadlines; the documents panel the one document the decision needs. The family's form and
the check's form are made in the form builder (form-js), the decision table in the DMN
editor (dmn-js). The check before publishing refuses it twice, for named reasons, then it is
published; the family files a demande for its children on a phone, the agent completes each
child's check and the demande is accepted.
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
from procedures.history import EngineContext
from procedures.models import Demande, DemandeStatus, Task, TaskState
from procedures.tasks import AgentActor
from tests.web.agents import sign_in_agent_in_browser
from tests.web.browser import ARTIFACTS, Portal, serve_portal, unexpected
from web.runtime import runtime

ADMIN = "admin@bellerive.example"
FAMILY = "famille.martin@bellerive.example"
CODE = "aide_activites"
DESIGNER = f"/admin/procedures/{CODE}/concepteur"
# The diagram, as the palette (create), the context pad (append, connect) and the replace
# menu (multi-instance, non-interrupting) build it: each line is one click's command.
BUILD = """() => {
  const modeler = window.portailDesigner.modeler;
  const registry = modeler.get("elementRegistry");
  const modeling = modeler.get("modeling");
  const factory = modeler.get("elementFactory");
  const moddle = modeler.get("moddle");
  const pool = registry.get("Pool_mairie");
  const named = (shape, id, name) => {
    modeling.updateProperties(shape, {id, name});
    return shape;
  };
  const append = (source, type, x, y, id, name) =>
    named(modeling.appendShape(source, factory.createShape({type}), {x, y}), id, name);
  const create = (type, x, y, parent, id, name, attrs) => named(modeling.createShape(
    factory.createShape(Object.assign({type}, attrs || {})), {x, y}, parent), id, name);

  const rule = append(registry.get("Debut"), "bpmn:BusinessRuleTask", 480, 260,
    "calculer_aide", "Calculer le montant de l'aide");
  const sub = create("bpmn:SubProcess", 750, 230, pool, "verification",
    "Vérifier chaque enfant", {isExpanded: true});
  modeling.connect(rule, sub);
  const subStart = create("bpmn:StartEvent", 610, 230, sub, "verification_debut", "");
  const check = append(subStart, "bpmn:UserTask", 740, 230, "verifier_enfant",
    "Vérifier l'inscription de l'enfant");
  modeling.updateProperties(check, {loopCharacteristics:
    moddle.create("bpmn:MultiInstanceLoopCharacteristics", {isSequential: false})});
  append(check, "bpmn:EndEvent", 870, 230, "verification_fin", "");
  const reminder = named(modeling.createShape(
    factory.createShape({type: "bpmn:BoundaryEvent",
                         eventDefinitionType: "bpmn:TimerEventDefinition"}),
    {x: 750, y: 330}, sub, {attach: true}), "rappel", "Rappel après 5 jours ouvrés");
  modeling.updateProperties(reminder, {cancelActivity: false});
  append(reminder, "bpmn:EndEvent", 750, 410, "Fin_rappel", "Rappel noté");
  const gateway = append(sub, "bpmn:ExclusiveGateway", 1010, 230, "montant_positif",
    "Une aide à verser ?");
  append(gateway, "bpmn:EndEvent", 1130, 160, "End_accordee", "Aide accordée");
  append(gateway, "bpmn:EndEvent", 1130, 330, "End_refusee", "Aide refusée");
  const flows = registry.filter((e) => e.type === "bpmn:SequenceFlow"
                                       && e.businessObject.sourceRef.id === "montant_positif");
  flows.forEach((flow) => modeling.updateProperties(flow, {
    id: flow.businessObject.targetRef.id === "End_accordee" ? "si_aide" : "sans_aide"}));
}"""
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
# The decision table, as its cells are typed in the DMN editor.
DECISION = """() => {
  const viewer = window.portailDesigner.decisions.modeler().getActiveViewer();
  const modeling = viewer.get("modeling");
  modeling.editDecisionTableId("montant_aide");
  modeling.editDecisionTableName("Montant de l'aide par enfant");
  const output = viewer.get("sheet").getRoot().businessObject.output[0];
  modeling.editOutputName(output, "montant");
  modeling.updateProperties(output, {label: "Montant"});
  modeling.editOutputTypeRef(output, "number");
  [["< 600", "150"], ["600 <= ? < 1200", "80"], [">= 1200", "0"]].forEach(([test, amount]) => {
    const row = modeling.addRow({type: "dmn:DecisionRule"});
    modeling.editCell(row.cells[0].businessObject, test);
    modeling.editCell(row.cells[1].businessObject, amount);
  });
}"""
SELECT = """(id) => window.portailDesigner.panel.select(id)"""


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    """The demo portal on the embedded deployment: what this test proves is the pages' (the
    stores are the demande services', proved on each deployment in test_more_bpmn)."""
    with serve_portal(tmp_path / "var") as served:
        yield served


def properties(page: Any, element: str) -> None:
    """Select the element (a click on it) and wait for the properties panel to show it."""
    page.evaluate(SELECT, element)
    page.locator(f"#designer-proprietes[data-element={element}]").wait_for()


def fill(page: Any, label: str, value: str) -> None:
    page.get_by_label(label).fill(value)
    page.get_by_label(label).press("Tab")  # "change"


def save(page: Any) -> None:
    """Click "save" and wait for the server's answer to be shown."""
    with page.expect_response("**/brouillon") as answered:
        page.get_by_role("button", name="Enregistrer le brouillon").click()
    assert answered.value.ok
    page.locator("#designer-etat", has_text="Brouillon enregistré").wait_for()


def publish(page: Any) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Publier le brouillon").click()
    page.wait_for_selector("#designer-canvas[data-ready=true]")


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

    # A new procedure: the designer opens on an empty diagram.
    page.goto(portal.url + "/admin/procedures")
    page.get_by_role("link", name="Nouvelle démarche").click()
    page.get_by_label("Titre").fill("Aide aux activités")
    page.get_by_label("Code de la démarche").fill(CODE)
    page.get_by_role("button", name="Créer et ouvrir le concepteur").click()
    page.wait_for_url(portal.url + DESIGNER)
    page.wait_for_selector("#designer-canvas[data-ready=true]")
    shapes = page.locator(".djs-shape[data-element-id]").evaluate_all(
        "(shapes) => shapes.map((shape) => shape.getAttribute('data-element-id'))"
    )
    assert sorted(shapes) == ["Debut", "Debut_label", "Lane_service", "Pool_mairie"]

    # The diagram, drawn; what the panel sets, set there.
    page.evaluate(BUILD)
    properties(page, "verifier_enfant")
    fill(page, "Une étape pour chaque élément de", "enfants")
    properties(page, "calculer_aide")
    fill(page, "Table de décision", "montant_aide")
    properties(page, "rappel")
    fill(page, "Minuterie", "5 jours ouvrés")
    properties(page, "si_aide")
    fill(page, "Condition", "montant > 0")
    properties(page, "sans_aide")
    fill(page, "Condition", "montant == 0")
    for end, status in (("End_accordee", "acceptee"), ("End_refusee", "refusee")):
        properties(page, end)
        page.get_by_label("Statut que cette fin donne à la demande").select_option(status)
    # The one document the decision needs, chosen among the vault's types.
    page.get_by_role("button", name="Ajouter un justificatif").click()
    page.get_by_label("Type de document").select_option("justificatif_domicile")
    fill(page, "Émis depuis moins de, en mois (facultatif)", "3")
    # The decision table, in the DMN editor.
    page.get_by_role("button", name="Ajouter des tables de décision").click()
    page.wait_for_selector("#designer-decisions[data-ready=true]")
    page.evaluate(DECISION)
    # The forms, in the form builder: the check's appears once the drawn step is saved.
    page.wait_for_selector("#designer-formulaire[data-form=famille]")
    page.evaluate(FAMILY_FORM)
    save(page)
    page.select_option("#designer-formulaire-choix", "verifier_enfant")
    page.wait_for_selector("#designer-formulaire[data-form=verifier_enfant]")
    page.evaluate(STEP_FORM)
    save(page)
    saved = page.locator("#designer-metadonnees").input_value()
    assert 'name = "enfants"' in saved and 'type = "children"' in saved
    assert '[[tasks.verifier_enfant.form]]\nname = "inscrit"' in saved
    assert 'End_accordee = "acceptee"' in saved and 'End_refusee = "refusee"' in saved
    assert '[[documents]]\ntype = "justificatif_domicile"\nmax_age_months = 3' in saved
    page.screenshot(path=str(ARTIFACTS / "nouvelle-demarche-concepteur.png"), full_page=True)

    # Refused twice, for named reasons: the lane has no service, then the check no deadline.
    publish(page)
    assert "couloir « Service instructeur » : aucun service choisi" in refusal(page)
    properties(page, "Lane_service")
    page.get_by_label("Service qui traite ce couloir").select_option("scolaire")
    save(page)
    publish(page)
    assert "« Vérifier l'inscription de l'enfant » : aucun délai de traitement" in refusal(page)
    properties(page, "verifier_enfant")
    fill(page, "Délai de traitement, en heures ouvrées", "16")
    save(page)
    page.get_by_role("button", name="Publier le brouillon").click()
    page.wait_for_url(portal.url + f"/admin/procedures/{CODE}")
    assert f"La version 1 de {CODE} est publiée." in page.content()
    assert unexpected(console) == []
    context.close()

    demande_id = family_files(portal, browser)
    agent_finishes(portal, demande_id)
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
    shared = page.locator("#justificatif-0 input[name=partage]")
    assert shared.count() == 1  # the proof of address, issued 20 days ago
    if not shared.is_checked():
        page.locator(f"label[for='{shared.get_attribute('id')}']").click()
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**/recapitulatif")
    page.get_by_role("button", name="Déposer ma demande").click()
    page.wait_for_url("**/confirmation")
    demande_id = int(page.url.rsplit("/", 2)[-2])
    context.close()
    return demande_id


def agent_finishes(portal: Portal, demande_id: int) -> None:
    """The school service completes each child's check; the decision table gave an amount
    (quotient 540: 150 euros), so the demande is accepted."""
    rt = runtime(portal.app)
    ctx = EngineContext(clock=rt.clock, vault=rt.vault)
    with rt.sessions() as session:
        agent = find_account(session, "agent.ecoles@bellerive.example")
        service = session.scalar(select(Service).where(Service.code == "scolaire"))
        assert agent is not None and service is not None
        actor = AgentActor(agent.id, frozenset({service.id}))
        checks = live(session, demande_id)
        assert len(checks) == 2  # Léa and Hugo
        assert sorted(task.title for task in checks) == [
            "Vérifier l'inscription de l'enfant — Hugo",
            "Vérifier l'inscription de l'enfant — Léa",
        ]
        for task in checks:
            tasks.claim(session, ctx, actor, task.id)
            tasks.complete(session, ctx, actor, task.id, {"inscrit": "oui"})
        demande = session.get(Demande, demande_id)
        assert demande is not None
        assert demande.status is DemandeStatus.ACCEPTEE


def live(session: Any, demande_id: int) -> list[Task]:
    query = select(Task).where(
        Task.demande_id == demande_id, Task.state.in_([TaskState.OPEN, TaskState.CLAIMED])
    )
    return list(session.scalars(query.order_by(Task.id)))
