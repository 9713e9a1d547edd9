"""The procedure designer's services: drafts, checks naming elements, publish, diff, rollback."""

from __future__ import annotations

import pytest
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Account, AdminJournalEntry, Role, Service
from accounts.organisation import OutsideScope
from coffre.clock import FrozenClock
from coffre.models import Foyer
from coffre.vault import Vault
from procedures import catalogue
from procedures.bpmn.diagrams import BPMN, NS
from procedures.definitions import load_definition
from procedures.demandes import FamilyActor
from procedures.designer.layout import BPMNDI, with_layout
from procedures.designer.publication import (
    DraftInvalid,
    ProcedureUnknown,
    import_into_draft,
    open_draft,
    publish_draft,
    republish,
    save_draft,
)
from procedures.designer.trial import trial_run
from procedures.designer.versions import diff_versions, procedures_overview, versions_of
from procedures.history import EngineContext
from procedures.models import Demande, ProcedureDraft, ProcedureVersion
from procedures.tasks import AgentActor
from tests.factories import make_account, make_agent
from tests.procedures.flows import agent_of, open_task, publish, submitted_creche, work

INTERVIEW = "entretien_famille"
INTERVIEW_DEADLINE = f"\n[tasks.{INTERVIEW}]\nsla_hours = 16\n"


def with_interview(xml: str) -> str:
    """The crèche diagram with a user task "Entretien avec la famille" in the commission's lane,
    between the file check and the commission's decision."""
    root = etree.fromstring(xml.encode("utf-8"))
    process = root.find("bpmn:process", NS)
    assert process is not None
    lane = process.find(".//bpmn:lane[@id='Lane_commission']", NS)
    etree.SubElement(lane, f"{{{BPMN}}}flowNodeRef").text = INTERVIEW
    etree.SubElement(process, f"{{{BPMN}}}userTask", id=INTERVIEW, name="Entretien avec la famille")
    flow = process.find("bpmn:sequenceFlow[@id='Flow_3']", NS)
    assert flow is not None
    flow.set("targetRef", INTERVIEW)
    etree.SubElement(
        process, f"{{{BPMN}}}sequenceFlow", id="Flow_entretien", sourceRef=INTERVIEW,
        targetRef="decision_commission",
    )  # fmt: skip
    return etree.tostring(root, encoding="unicode")


@pytest.fixture
def admin(db_session: Session, clock: FrozenClock) -> Account:
    return make_account(db_session, clock, Role.ADMIN)


@pytest.fixture
def published(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> None:
    """The crèche published, its service staffed (the policy wants an agent to do its steps)."""
    publish(db_session, clock, "creche")
    make_agent(db_session, clock, petite_enfance)


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> AgentActor:
    return agent_of(db_session, clock, petite_enfance)


@pytest.mark.usefixtures("published")
def test_a_new_draft_is_the_current_version_with_a_drawing_and_its_metadata_as_toml(
    db_session: Session,
) -> None:
    draft = open_draft(db_session, "creche")

    assert not draft.saved and draft.problems == []
    current = catalogue.current_version(db_session, "creche")
    assert current is not None
    assert load_definition(draft.metadata_toml) == catalogue.definition_of(current)
    root = etree.fromstring(draft.bpmn_xml.encode("utf-8"))
    drawn = {shape.get("bpmnElement") for shape in root.iter(f"{{{BPMNDI}}}BPMNShape")}
    nodes = {"Debut", "verifier_dossier", "decision_commission", "End_refus", "Lane_famille"}
    assert nodes <= drawn
    assert with_layout(draft.bpmn_xml) == draft.bpmn_xml  # a drawn diagram is left alone


def test_an_unknown_procedure_has_no_draft(db_session: Session) -> None:
    with pytest.raises(ProcedureUnknown):
        open_draft(db_session, "inexistante")


@pytest.mark.usefixtures("published")
def test_saving_keeps_the_draft_and_lists_each_problem_with_its_element_id(
    db_session: Session, clock: FrozenClock, admin: Account
) -> None:
    draft = open_draft(db_session, "creche")
    xml = draft.bpmn_xml.replace(
        "<bpmn:flowNodeRef>verifier_dossier</bpmn:flowNodeRef>", ""
    ).replace("decision == 'refus'", "__import__('os').system('id')")
    toml = draft.metadata_toml.replace('"Famille" = "famille"', "").replace(
        'Famille = "famille"', 'Famille = "creches-privees"'
    )

    saved = save_draft(db_session, clock, "creche", xml, toml, admin.id)

    assert saved.saved and saved.updated_by == admin.display_name
    by_element = {problem.element_id: problem.message for problem in saved.problems}
    assert "hors de tout couloir" in by_element["verifier_dossier"]
    assert "expression refusée" in by_element["Flow_refus"]
    row = db_session.get(ProcedureDraft, "creche")
    assert row is not None and row.bpmn_xml == xml

    fixed = save_draft(db_session, clock, "creche", draft.bpmn_xml, toml, admin.id)
    assert [(p.element_id, p.message) for p in fixed.problems] == [
        ("Lane_famille", "couloir « Famille » : service inconnu « creches-privees »")
    ]
    with pytest.raises(DraftInvalid) as refused:
        publish_draft(db_session, clock, "creche", admin.id)
    assert refused.value.problems == fixed.problems
    assert len(versions_of(db_session, "creche")) == 1


@pytest.mark.usefixtures("published")
def test_metadata_problems_are_listed_in_french(
    db_session: Session, clock: FrozenClock, admin: Account
) -> None:
    draft = open_draft(db_session, "creche")
    broken = save_draft(db_session, clock, "creche", draft.bpmn_xml, "code = [", admin.id)
    assert broken.problems[0].message.startswith("métadonnées : métadonnées illisibles")

    typo = draft.metadata_toml.replace("[tasks.verifier_dossier]", "[tasks.verifier_dosier]")
    saved = save_draft(db_session, clock, "creche", draft.bpmn_xml, typo, admin.id)
    assert [p.message for p in saved.problems] == [
        "métadonnées : [tasks.verifier_dosier] ne correspond à aucune étape du diagramme "
        "(tâche humaine ou attente d'un message)"
    ]


@pytest.mark.usefixtures("published")
def test_publishing_keeps_running_demandes_on_their_version_and_starts_new_ones_on_the_new(
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    admin: Account,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    before = submitted_creche(db_session, ctx, family, vault, foyer)
    draft = open_draft(db_session, "creche")
    save_draft(db_session, clock, "creche", with_interview(draft.bpmn_xml),
               draft.metadata_toml + INTERVIEW_DEADLINE, admin.id)  # fmt: skip

    version = publish_draft(db_session, clock, "creche", admin.id)

    assert (version.version, version.published_by, version.is_current) == (2, admin.id, True)
    assert db_session.get(ProcedureDraft, "creche") is None
    after = submitted_creche(db_session, ctx, family, vault, foyer)
    assert before.procedure_version_id != after.procedure_version_id == version.id
    work(db_session, ctx, agent, before, {})
    work(db_session, ctx, agent, after, {})
    assert open_task(db_session, before).spec_id == "decision_commission"
    interview = open_task(db_session, after)
    assert (interview.spec_id, interview.lane) == (INTERVIEW, "Commission petite enfance")
    assert interview.service_id == db_session.scalar(
        select(Service.id).where(Service.code == "petite-enfance")
    )
    rows = versions_of(db_session, "creche")
    assert [(r.version, r.published_by, r.demandes, r.is_current) for r in rows] == [
        (2, admin.display_name, 1, True),
        (1, None, 1, False),
    ]
    (summary,) = procedures_overview(db_session)
    assert (summary.code, summary.current, summary.versions, summary.demandes) == (
        "creche", 2, 2, 2,
    )  # fmt: skip


@pytest.mark.usefixtures("published")
def test_diff_shows_the_changed_metadata_lines_and_rollback_republishes_an_old_version(
    db_session: Session, clock: FrozenClock, admin: Account, agent: AgentActor
) -> None:
    draft = open_draft(db_session, "creche")
    toml = draft.metadata_toml.replace("sla_hours = 48", "sla_hours = 24")
    save_draft(db_session, clock, "creche", draft.bpmn_xml, toml, admin.id)
    publish_draft(db_session, clock, "creche", admin.id)

    diff = diff_versions(db_session, "creche", 1, 2)

    assert diff.metadata_changed and diff.diagram_changed  # the drawing was added
    changed = [(row.left.strip(), row.right.strip()) for row in diff.rows if row.kind != "equal"]
    assert changed == [('"sla_hours": 48,', '"sla_hours": 24,')]
    assert not diff_versions(db_session, "creche", 1, 1).rows

    rolled_back = republish(db_session, clock, "creche", 1, admin.id)

    first = db_session.scalars(
        select(ProcedureVersion).where(
            ProcedureVersion.code == "creche", ProcedureVersion.version == 1
        )
    ).one()
    assert (rolled_back.version, rolled_back.is_current) == (3, True)
    assert (rolled_back.metadata_json, rolled_back.bpmn_xml) == (
        first.metadata_json,
        first.bpmn_xml,
    )
    current = catalogue.current_version(db_session, "creche")
    assert current is not None and current.version == 3
    assert catalogue.definition_of(current).task("verifier_dossier").sla_hours == 48
    journal = db_session.scalars(select(AdminJournalEntry).order_by(AdminJournalEntry.id)).all()
    assert [(e.action, e.actor_id, e.target_id, e.before, e.after) for e in journal] == [
        (
            "procedure_published", admin.id, "creche",
            '{"title": "Pré-inscription en crèche", "version": 1}',
            '{"title": "Pré-inscription en crèche", "version": 2}',
        ),
        (
            "procedure_republished", admin.id, "creche",
            '{"title": "Pré-inscription en crèche", "version": 2}',
            '{"republished": 1, "title": "Pré-inscription en crèche", "version": 3}',
        ),
    ]  # fmt: skip


@pytest.mark.usefixtures("published")
def test_an_administrator_of_one_entity_cannot_change_procedures(
    db_session: Session, clock: FrozenClock, petite_enfance: Service
) -> None:
    local = make_account(db_session, clock, Role.ADMIN, entity_id=petite_enfance.entity_id)
    draft = open_draft(db_session, "creche")

    with pytest.raises(OutsideScope):
        save_draft(db_session, clock, "creche", draft.bpmn_xml, draft.metadata_toml, local.id)
    with pytest.raises(OutsideScope):
        republish(db_session, clock, "creche", 1, local.id)
    assert db_session.get(ProcedureDraft, "creche") is None


@pytest.mark.usefixtures("published")
def test_an_imported_diagram_becomes_the_draft_and_a_refused_one_changes_nothing(
    db_session: Session, clock: FrozenClock, admin: Account
) -> None:
    current = catalogue.current_version(db_session, "creche")
    assert current is not None
    imported = with_interview(current.bpmn_xml).encode("utf-8")

    result = import_into_draft(db_session, clock, "creche", imported, "creche.bpmn", admin.id)

    assert result.accepted
    draft = open_draft(db_session, "creche")
    assert draft.saved and INTERVIEW in draft.bpmn_xml and draft.problems == []
    assert "BPMNShape" in draft.bpmn_xml
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>'
    )
    refused = import_into_draft(db_session, clock, "creche", hostile, "x.bpmn", admin.id)
    assert not refused.accepted and refused.reasons[0].code == "doctype"
    assert open_draft(db_session, "creche").bpmn_xml == draft.bpmn_xml


def test_importing_under_a_new_code_drafts_a_new_procedure(
    db_session: Session, clock: FrozenClock, admin: Account, petite_enfance: Service
) -> None:
    _definition, bpmn = catalogue.read_built_in("creche")
    result = import_into_draft(db_session, clock, "creche-bis", bpmn, "creche.bpmn", admin.id)

    assert result.accepted
    draft = open_draft(db_session, "creche-bis")
    definition = load_definition(draft.metadata_toml)
    assert definition.lanes["Famille"] == "famille"
    assert set(definition.ends) == {"End_place", "End_caduque", "End_attente", "End_refus"}
    assert [s.code for s in procedures_overview(db_session)] == ["creche-bis"]


@pytest.mark.usefixtures("published")
def test_a_test_run_shows_the_lane_and_service_of_each_task_without_storing_anything(
    db_session: Session, clock: FrozenClock, admin: Account, petite_enfance: Service
) -> None:
    draft = open_draft(db_session, "creche")
    save_draft(db_session, clock, "creche", with_interview(draft.bpmn_xml), draft.metadata_toml,
               admin.id)  # fmt: skip

    run = trial_run(db_session, "creche", {"decision": "place", "reponse": "acceptee"})

    service = petite_enfance.name
    assert [(s.spec_id, s.lane, s.handled_by) for s in run.steps] == [
        ("verifier_dossier", "Accueil petite enfance", service),
        (INTERVIEW, "Commission petite enfance", service),
        ("decision_commission", "Commission petite enfance", service),
        ("accepter_place", "Famille", "la famille"),
    ]
    assert (run.end, run.status) == ("End_place", "acceptee")
    refused = trial_run(db_session, "creche", {"decision": "refus"})
    assert (refused.end, refused.status, len(refused.steps)) == ("End_refus", "refusee", 3)
    assert db_session.scalar(select(Demande.id)) is None


@pytest.mark.parametrize("code", catalogue.built_in_codes())
def test_every_built_in_diagram_gets_a_shape_for_each_node_and_lane_and_an_edge_per_flow(
    code: str,
) -> None:
    definition, bpmn = catalogue.read_built_in(code)
    drawn = with_layout(bpmn.decode("utf-8"))

    root = etree.fromstring(drawn.encode("utf-8"))
    process = root.find("bpmn:process", NS)
    assert process is not None
    shapes = {shape.get("bpmnElement") for shape in root.iter(f"{{{BPMNDI}}}BPMNShape")}
    edges = {edge.get("bpmnElement") for edge in root.iter(f"{{{BPMNDI}}}BPMNEdge")}
    flows = {flow.get("id") for flow in process.iter(f"{{{BPMN}}}sequenceFlow")}
    nodes = {
        node.get("id")
        for node in process
        if etree.QName(node).localname.endswith(("Task", "Event", "Gateway"))
    }
    lanes = {lane.get("id") for lane in process.iter(f"{{{BPMN}}}lane")}
    assert nodes | lanes <= shapes and edges == flows
    decisions = catalogue.read_decisions(catalogue.BUILT_IN / f"{code}.bpmn")
    drawn_diagram = catalogue.check(definition, drawn.encode("utf-8"), decisions)
    assert drawn_diagram.process_id == process.get("id")


def test_the_policy_refuses_publishing_with_each_element_and_its_fix(
    db_session: Session, clock: FrozenClock, admin: Account, petite_enfance: Service
) -> None:
    """A new step with no deadline, in a service with no agent: refused twice, by name."""
    publish(db_session, clock, "creche")
    draft = open_draft(db_session, "creche")
    save_draft(db_session, clock, "creche", with_interview(draft.bpmn_xml), draft.metadata_toml,
               admin.id)  # fmt: skip

    with pytest.raises(DraftInvalid) as first:
        publish_draft(db_session, clock, "creche", admin.id)
    make_agent(db_session, clock, petite_enfance)
    with pytest.raises(DraftInvalid) as second:
        publish_draft(db_session, clock, "creche", admin.id)
    save_draft(db_session, clock, "creche", with_interview(draft.bpmn_xml),
               draft.metadata_toml + INTERVIEW_DEADLINE, admin.id)  # fmt: skip
    version = publish_draft(db_session, clock, "creche", admin.id)

    messages = [problem.message for problem in first.value.problems]
    assert any("n'a aucun agent actif" in m and "Invitez un agent" in m for m in messages)
    assert [(p.element_id, "aucun délai" in p.message) for p in second.value.problems] == [
        (INTERVIEW, True)
    ]
    assert version.version == 2


@pytest.mark.usefixtures("published")
def test_the_policy_names_an_unreachable_step_a_dead_end_and_an_end_without_status(
    db_session: Session, clock: FrozenClock, admin: Account, agent: AgentActor
) -> None:
    draft = open_draft(db_session, "creche")
    root = etree.fromstring(draft.bpmn_xml.encode("utf-8"))
    process = root.find("bpmn:process", NS)
    assert process is not None
    lane = process.find(".//bpmn:lane[@id='Lane_commission']", NS)
    etree.SubElement(lane, f"{{{BPMN}}}flowNodeRef").text = "orpheline"
    etree.SubElement(process, f"{{{BPMN}}}userTask", id="orpheline", name="Tâche orpheline")
    etree.SubElement(process, f"{{{BPMN}}}endEvent", id="fin_oubliee", name="Fin oubliée")
    etree.SubElement(
        process, f"{{{BPMN}}}sequenceFlow", id="Flow_orpheline", sourceRef="orpheline",
        targetRef="fin_oubliee",
    )  # fmt: skip
    toml = draft.metadata_toml + "\n[tasks.orpheline]\nsla_hours = 8\n"
    save_draft(db_session, clock, "creche", etree.tostring(root, encoding="unicode"), toml,
               admin.id)  # fmt: skip

    with pytest.raises(DraftInvalid) as refused:
        publish_draft(db_session, clock, "creche", admin.id)

    found = {(p.element_id, p.message.split(":")[0]) for p in refused.value.problems}
    assert ("orpheline", "« Tâche orpheline » ") in found  # nothing leads to it
    assert ("fin_oubliee", "fin « Fin oubliée » ") in found  # no final status
    assert db_session.scalar(select(ProcedureVersion.version).order_by(
        ProcedureVersion.version.desc()).limit(1)) == 1  # fmt: skip


@pytest.mark.usefixtures("published")
def test_diff_names_each_element_and_field_that_changed(
    db_session: Session, clock: FrozenClock, admin: Account, agent: AgentActor
) -> None:
    draft = open_draft(db_session, "creche")
    root = etree.fromstring(with_interview(draft.bpmn_xml).encode("utf-8"))
    task = root.find(".//bpmn:userTask[@id='verifier_dossier']", NS)
    assert task is not None
    task.set("name", "Contrôler le dossier")
    bpmn = etree.tostring(root, encoding="unicode").replace(
        "decision == 'attente'", "decision == 'attente' and jours >= 2"
    )
    toml = draft.metadata_toml.replace("sla_hours = 48", "sla_hours = 24") + INTERVIEW_DEADLINE
    toml = toml.replace('label = "Décision de la commission"', 'label = "Décision"')
    toml = toml.replace("max_age_months = 3\n", "max_age_months = 6\n").replace(
        '[[documents]]\ntype = "avis_imposition"\n', ""
    )
    save_draft(db_session, clock, "creche", bpmn, toml, admin.id)
    publish_draft(db_session, clock, "creche", admin.id)

    found = {(c.kind, c.what, c.change) for c in diff_versions(db_session, "creche", 1, 2).elements}

    assert ("added", "étape « Entretien avec la famille »",
            "ajouté (couloir « Commission petite enfance »)") in found  # fmt: skip
    assert ("renamed", "étape « Vérifier la complétude du dossier »",
            "renommé « Contrôler le dossier »") in found  # fmt: skip
    assert ("changed", "flux « liste d'attente »",
            "condition : « decision == 'attente' » → « decision == 'attente' and jours >= 2 »"
            ) in found  # fmt: skip
    assert ("changed", "étape « verifier_dossier »",
            "délai de traitement : 48 h ouvrées → 24 h ouvrées") in found  # fmt: skip
    assert ("changed", "formulaire de l'étape « decision_commission », champ « Décision »",
            "libellé « Décision de la commission » → « Décision »") in found  # fmt: skip
    assert ("changed", "justificatif « Justificatif de domicile »",
            "de moins de 3 mois → de moins de 6 mois") in found  # fmt: skip
    assert ("removed", "justificatif « Avis d'imposition »", "n'est plus demandé") in found
    assert not diff_versions(db_session, "creche", 1, 1).elements
