"""The procedure designer in headless Chromium: an administrator adds a user task to the crèche
procedure in the bpmn-js modeler, saves and publishes; a demande started before keeps the old
path, one started after follows the new one (checked through the engine's ready tasks)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accounts.credentials import find_account
from accounts.models import Service
from coffre.clock import local_today
from coffre.models import Foyer, MemberRole
from procedures import catalogue, demandes, tasks
from procedures.bpmn import engine
from procedures.bpmn.expressions import RestrictedScriptEngine
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.models import Demande, Task, TaskState
from procedures.tasks import AgentActor
from tests.procedures.designer.test_publication import INTERVIEW_DEADLINE
from tests.web.agents import sign_in_agent_in_browser
from tests.web.browser import ARTIFACTS, Portal, serve_portal, unexpected
from tests.web.conftest import deposit
from web.runtime import runtime

ADMIN = "admin@bellerive.example"
FAMILY = "famille.martin@bellerive.example"
DESIGNER = "/admin/procedures/creche/concepteur"
ADD_INTERVIEW = """() => {
  const modeler = window.portailDesigner.modeler;
  const registry = modeler.get("elementRegistry");
  const modeling = modeler.get("modeling");
  const check = registry.get("verifier_dossier");
  const decision = registry.get("decision_commission");
  const lane = registry.get("Lane_commission");
  modeling.removeConnection(registry.get("Flow_3"));
  const position = { x: check.x + check.width / 2, y: decision.y + decision.height / 2 };
  const task = modeling.createShape({ type: "bpmn:UserTask" }, position, lane.parent);
  modeling.updateProperties(task, { id: "entretien_famille", name: "Entretien avec la famille" });
  modeling.connect(check, task);
  modeling.connect(task, decision);
  return task.businessObject.$parent.id + "/" + lane.businessObject.flowNodeRef
    .map((node) => node.id).join(",");
}"""


@pytest.fixture
def portal(tmp_path: Path, deployed: dict[str, str]) -> Iterator[Portal]:
    """The demo portal, on each deployment."""
    with serve_portal(tmp_path / "var", deployed) as served:
        yield served


def submitted_creche(portal: Portal) -> int:
    """The Martin family's crèche pre-registration for Léa, submitted through the services."""
    rt = runtime(portal.app)
    ctx = EngineContext(clock=rt.clock, vault=rt.vault)
    with rt.sessions() as session:
        account = find_account(session, FAMILY)
        assert account is not None and account.foyer_id is not None
        foyer = session.get(Foyer, account.foyer_id)
        assert foyer is not None
        child = next(m.id for m in foyer.members if m.role is MemberRole.ENFANT)
        recent = local_today(rt.clock) - timedelta(days=10)
        papers = [
            deposit(portal.app, session, foyer.id, "justificatif_domicile", issued_on=recent),
            deposit(portal.app, session, foyer.id, "avis_imposition", issued_on=recent),
            deposit(
                portal.app,
                session,
                foyer.id,
                "carnet_vaccination",
                issued_on=recent,
                member_id=child,
            ),
        ]
        actor = FamilyActor(account.id, foyer.id)
        draft = demandes.create_draft(session, ctx, actor, "creche")
        form = {"enfant": str(child), "date_entree": "2027-01-04", "jours": "4"}
        demande = demandes.submit(session, ctx, actor, draft.id, form, [d.id for d in papers])
        return demande.id


def after_file_check(portal: Portal, demande_id: int) -> list[tuple[str, str | None]]:
    """The crèche agent completes the file check; the engine's ready tasks that follow."""
    rt = runtime(portal.app)
    ctx = EngineContext(clock=rt.clock, vault=rt.vault)
    with rt.sessions() as session:
        agent = find_account(session, "agent.creche@bellerive.example")
        service = session.scalar(select(Service).where(Service.code == "petite-enfance"))
        assert agent is not None and service is not None
        actor = AgentActor(agent.id, frozenset({service.id}))
        task = session.scalars(
            select(Task).where(Task.demande_id == demande_id, Task.state == TaskState.OPEN)
        ).one()
        assert task.spec_id == "verifier_dossier"
        tasks.claim(session, ctx, actor, task.id)
        tasks.complete(session, ctx, actor, task.id, {})
        demande = session.get(Demande, demande_id)
        assert demande is not None and demande.workflow_state is not None
        workflow = engine.restore(demande.workflow_state, RestrictedScriptEngine())
        return [(ready.spec_id, ready.lane) for ready in engine.ready_tasks(workflow)]


@pytest.mark.browser
def test_admin_adds_a_task_in_the_modeler_and_publishes_it_for_new_demandes_only(
    portal: Portal, browser: Any
) -> None:
    before = submitted_creche(portal)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="fr-FR")
    page = context.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    sign_in_agent_in_browser(page, portal.url, portal.app, ADMIN)

    page.goto(portal.url + DESIGNER)
    page.wait_for_selector("#designer-canvas[data-ready=true]")
    assert page.locator(".djs-element[data-element-id=verifier_dossier]").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "concepteur-creche.png"), full_page=True)

    # A lane mapped to an unknown service: listed beside the diagram, its lane highlighted.
    metadata = page.locator("#designer-metadonnees")
    original = metadata.input_value()
    metadata.fill(original.replace('Famille = "famille"', 'Famille = "creches-privees"'))
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    problem = page.locator("#designer-problemes li[data-element=Lane_famille]")
    problem.wait_for()
    assert "service inconnu « creches-privees »" in problem.inner_text()
    assert page.locator(".djs-element.designer-erreur[data-element-id=Lane_famille]").count() == 1
    metadata.fill(original)

    placed = page.evaluate(ADD_INTERVIEW)
    assert placed.startswith("creche/") and placed.endswith(",entretien_famille")
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    page.locator("#designer-problemes", has_text="Aucun problème trouvé.").wait_for()
    # Sound, but the policy would refuse it: listed while editing, the new step highlighted.
    policy = page.locator(".designer-avant-publication li[data-element=entretien_famille]")
    assert "aucun délai de traitement" in policy.inner_text()
    highlighted = page.locator(".djs-element.designer-erreur")
    assert [
        highlighted.nth(i).get_attribute("data-element-id") for i in range(highlighted.count())
    ] == ["entretien_famille"]
    assert "Brouillon enregistré le" in page.locator("#designer-etat").inner_text()
    page.screenshot(path=str(ARTIFACTS / "concepteur-creche-entretien.png"), full_page=True)

    # The policy refuses it: the new step has no deadline; the message says what to add.
    with page.expect_navigation():  # the refusal comes back to this same page
        page.get_by_role("button", name="Publier le brouillon").click()
    refusal = page.get_by_role("paragraph").filter(
        has_text="« Entretien avec la famille » : aucun délai de traitement"
    )
    refusal.wait_for()  # the flash message, beside the list under the diagram
    page.wait_for_selector("#designer-canvas[data-ready=true]")
    metadata.fill(metadata.input_value() + INTERVIEW_DEADLINE)
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    page.locator("#designer-problemes", has_text="Aucun problème trouvé.").wait_for()

    page.get_by_role("button", name="Publier le brouillon").click()
    page.wait_for_url(portal.url + "/admin/procedures/creche")
    assert "La version 2 de creche est publiée." in page.content()
    assert failed == [] and unexpected(console) == []
    context.close()

    after = submitted_creche(portal)
    with runtime(portal.app).sessions() as session:
        current = catalogue.current_version(session, "creche")
        assert current is not None and current.version == 2
    assert after_file_check(portal, before) == [
        ("decision_commission", "Commission petite enfance")
    ]
    assert after_file_check(portal, after) == [("entretien_famille", "Commission petite enfance")]
