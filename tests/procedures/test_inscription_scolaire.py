"""School registration driven end to end, and the school proposed from the foyer's address."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from coffre.clock import FrozenClock
from coffre.consent import AgentReader, granted_documents
from coffre.models import Document, Foyer, FoyerMember, Grant
from coffre.vault import Vault
from demo.seed import FAMILIES
from procedures import demandes
from procedures.demandes import FamilyActor
from procedures.errors import Incomplete
from procedures.history import EngineContext
from procedures.models import Demande, DemandeEvent, DemandeStatus
from procedures.operations.context import OperationContext, OperationError
from procedures.operations.sectorisation import (
    assign_school,
    parse_sectorisation,
    read_sectorisation,
)
from procedures.tasks import AgentActor
from tests.coffre.conftest import deposit, pdf_of
from tests.factories import make_service
from tests.procedures.flows import (
    agent_of,
    child_of,
    family_of,
    open_task,
    publish,
    templates_sent,
    work,
    workflow_data,
)

LILAS = "Groupe scolaire des Lilas"
JAURES = "Groupe scolaire Jean-Jaurès"
UNDECIDED = "À déterminer par le service des affaires scolaires"


@pytest.fixture
def family(db_session: Session, clock: FrozenClock, foyer: Foyer) -> FamilyActor:
    foyer.address_line, foyer.postal_code, foyer.city = "12 rue des Lilas", "33600", "Bellerive"
    db_session.commit()
    return family_of(db_session, clock, foyer)


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock) -> AgentActor:
    scolaire = make_service(db_session, code="scolaire")
    publish(db_session, clock, "inscription_scolaire")
    return agent_of(db_session, clock, scolaire)


def papers(vault: Vault, session: Session, foyer: Foyer) -> list[Document]:
    return [
        deposit(vault, session, foyer, pdf_of(5000), issued_on=date(2026, 8, 10)),
        deposit(vault, session, foyer, pdf_of(5001), type_code="livret_famille"),
        deposit(
            vault, session, foyer, pdf_of(5002), type_code="carnet_vaccination",
            member_id=child_of(foyer),
        ),
    ]  # fmt: skip


def form(foyer: Foyer) -> dict[str, str]:
    return {"enfant": str(child_of(foyer)), "niveau": "CP", "date_entree": "2026-09-01"}


def submitted(
    session: Session, ctx: EngineContext, family: FamilyActor, vault: Vault, foyer: Foyer
) -> Demande:
    draft = demandes.create_draft(session, ctx, family, "inscription_scolaire")
    ids = [document.id for document in papers(vault, session, foyer)]
    return demandes.submit(session, ctx, family, draft.id, form(foyer), ids)


@pytest.mark.parametrize(
    ("decision", "status"),
    [("valider", DemandeStatus.ACCEPTEE), ("refuser", DemandeStatus.REFUSEE)],
)
def test_inscription_reaches_each_end(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    decision: str,
    status: DemandeStatus,
) -> None:
    demande = submitted(db_session, ctx, family, vault, foyer)
    assert demande.number is not None and demande.status is DemandeStatus.DEPOSEE
    task = open_task(db_session, demande)
    assert (task.spec_id, task.title) == ("valider_affectation", "Valider l'affectation")
    assert task.due_at == ctx.calendar.add(ctx.clock.now(), timedelta(hours=40))
    reader = AgentReader(agent.account_id, agent.service_ids)
    assert len(granted_documents(db_session, reader, demande.id)) == 3

    demande = work(db_session, ctx, agent, demande, {"decision": decision, "motif": "Effectifs"})

    assert demande.status is status and demande.closed_at is not None
    assert templates_sent(db_session, family) == ["demande_recue", "decision"]


def test_the_school_of_the_street_is_proposed_to_the_agent(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    demande = submitted(db_session, ctx, family, vault, foyer)

    assert workflow_data(db_session, demande)["affectation"] == {
        "ecole": LILAS,
        "secteur_trouve": True,
    }
    (note,) = proposals(db_session, demande)
    assert note.internal  # for the agent who validates: the family reads the decision
    assert note.comment.startswith(f"École du secteur de l'adresse du foyer : {LILAS}.")
    work(db_session, ctx, agent, demande, {"decision": "valider"})
    assert workflow_data(db_session, demande)["ecole"] is None  # no override: the proposal stands
    assert kept(db_session, demande, foyer) == (LILAS, f"École retenue pour Lou : {LILAS}.")


def kept(session: Session, demande: Demande, foyer: Foyer) -> tuple[str | None, str]:
    """The school on the child's file and what the family reads of it (a public line)."""
    query = select(DemandeEvent).where(
        DemandeEvent.demande_id == demande.id, DemandeEvent.kind == "ecole_retenue"
    )
    (line,) = session.scalars(query)
    assert not line.internal
    child = session.get(FoyerMember, child_of(foyer))
    assert child is not None
    session.refresh(child)
    return child.school, line.comment


def proposals(session: Session, demande: Demande) -> list[DemandeEvent]:
    """The history's lines where the sectorisation told the agent its proposal."""
    query = select(DemandeEvent).where(
        DemandeEvent.demande_id == demande.id, DemandeEvent.kind == "ecole_proposee"
    )
    return list(session.scalars(query))


def test_the_agent_chooses_the_school_when_the_street_is_unknown(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    foyer.address_line = "3 chemin des Vignes"
    demande = submitted(db_session, ctx, family, vault, foyer)
    assert workflow_data(db_session, demande)["affectation"] == {
        "ecole": UNDECIDED,
        "secteur_trouve": False,
    }
    (note,) = proposals(db_session, demande)
    assert "n'est dans aucun secteur scolaire : indiquez l'école retenue" in note.comment

    demande = work(db_session, ctx, agent, demande, {"decision": "valider", "ecole": JAURES})

    assert demande.status is DemandeStatus.ACCEPTEE
    assert workflow_data(db_session, demande)["ecole"] == JAURES
    assert kept(db_session, demande, foyer)[0] == JAURES  # the agent's choice, not the default


def test_submission_lists_every_missing_item(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    draft = demandes.create_draft(db_session, ctx, family, "inscription_scolaire")
    old_address = deposit(vault, db_session, foyer, pdf_of(5000), issued_on=date(2026, 4, 1))
    answers = form(foyer) | {"niveau": "6e"}

    with pytest.raises(Incomplete) as incomplete:
        demandes.submit(db_session, ctx, family, draft.id, answers, [old_address.id])

    problems = incomplete.value.problems
    assert any("Niveau à la rentrée" in p for p in problems)
    assert any("Justificatif de domicile de moins de 3 mois" in p for p in problems)
    assert any("Livret de famille" in p for p in problems)
    assert any("Carnet de vaccination de l'enfant concerné" in p for p in problems)
    assert db_session.get(Demande, draft.id).status is DemandeStatus.BROUILLON  # type: ignore[union-attr]


# --- the `affecter_ecole` operation ------------------------------------------------------


def assign(session: Session, clock: FrozenClock, foyer: Foyer) -> dict[str, object]:
    context = OperationContext(
        session, clock, Demande(foyer_id=foyer.id), "Inscription scolaire", "step",
        "http://test", {},
    )  # fmt: skip
    return dict(assign_school(context, {}))


@pytest.mark.parametrize(
    ("address", "school"),
    [
        ("12 rue des Lilas", LILAS),
        ("12 RUE DES LILAS", LILAS),
        ("12 bis, Rue des Lilas", LILAS),
        ("Résidence Les Pins, bât. B, 12 rue des lilas", LILAS),
        ("4 allée des Platanes", LILAS),
        ("4 Allee des platanes", LILAS),
        ("4 all. des Platanes", LILAS),
        ("27 avenue de la Gare", JAURES),
        ("27 av. de la gare", JAURES),
        ("2 place de la Republique", JAURES),
        ("8 bd St-Exupéry", JAURES),
    ],
)
def test_a_known_street_is_found_whatever_its_spelling(
    db_session: Session, clock: FrozenClock, foyer: Foyer, address: str, school: str
) -> None:
    foyer.address_line, foyer.postal_code, foyer.city = address, "33600", "BELLERIVE"

    assert assign(db_session, clock, foyer) == {"ecole": school, "secteur_trouve": True}


@pytest.mark.parametrize(
    ("address", "postal_code", "city"),
    [
        ("3 chemin des Vignes", "33600", "Bellerive"),
        ("12 rue des Lilacs", "33600", "Bellerive"),  # close is not enough
        ("12 rue des Lilas", "75011", "Paris"),  # the same street name in another town
        ("", "", ""),
    ],
)
def test_an_unknown_address_is_left_to_the_service(
    db_session: Session, clock: FrozenClock, foyer: Foyer, address: str, postal_code: str, city: str
) -> None:
    foyer.address_line, foyer.postal_code, foyer.city = address, postal_code, city

    assert assign(db_session, clock, foyer) == {"ecole": UNDECIDED, "secteur_trouve": False}


def test_a_blank_postal_code_and_city_leave_the_street_to_decide(
    db_session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    foyer.address_line, foyer.postal_code, foyer.city = "27 avenue de la Gare", "", ""

    assert assign(db_session, clock, foyer) == {"ecole": JAURES, "secteur_trouve": True}


def test_every_demo_family_lives_in_a_secteur() -> None:
    sectorisation = read_sectorisation()

    for _, _, address, _, _ in FAMILIES:
        assert sectorisation.school_for(address, "33600", "Bellerive") is not None


def test_the_longest_matching_street_wins() -> None:
    sectorisation = parse_sectorisation(
        """
        ecole_par_defaut = "À voir"
        [[ecoles]]
        nom = "École du Port"
        rues = ["quai du Port"]
        [[ecoles]]
        nom = "École de la Gare"
        rues = ["rue du Port Neuf"]
        """
    )

    assert sectorisation.school_for("5 rue du Port-Neuf") == "École de la Gare"
    assert sectorisation.school_for("1 qu. du port") == "École du Port"


def test_a_broken_sectorisation_names_every_problem() -> None:
    with pytest.raises(OperationError) as broken:
        parse_sectorisation(
            """
            [[ecoles]]
            nom = "École A"
            rues = ["rue des Lilas"]
            [[ecoles]]
            nom = "École B"
            rues = ["Rue des lilas"]
            [[ecoles]]
            rues = ["rue Haute"]
            [[ecoles]]
            nom = "École C"
            rues = "rue Basse"
            """
        )

    message = str(broken.value)
    assert "« Rue des lilas » est rattachée à École A et à École B" in message
    assert "une école sans « nom »" in message
    assert "École C : « rues » doit être une liste" in message
    assert "« ecole_par_defaut » est obligatoire" in message


def test_a_missing_or_unreadable_sectorisation_is_an_operation_error(tmp_path: Path) -> None:
    with pytest.raises(OperationError):
        read_sectorisation(tmp_path / "absent.toml")
    (tmp_path / "casse.toml").write_text("ecoles = [", encoding="utf-8")
    with pytest.raises(OperationError):
        read_sectorisation(tmp_path / "casse.toml")


def test_a_broken_sectorisation_stops_the_submission_whole(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = tmp_path / "secteurs.toml"
    broken.write_text("[[ecoles]]\nnom = 'École A'\n", encoding="utf-8")
    monkeypatch.setattr("procedures.operations.sectorisation.SECTORISATION_FILE", broken)

    draft = demandes.create_draft(db_session, ctx, family, "inscription_scolaire")
    ids = [document.id for document in papers(vault, db_session, foyer)]

    with pytest.raises(OperationError):
        demandes.submit(db_session, ctx, family, draft.id, form(foyer), ids)
    db_session.rollback()  # as closing the request's session does after an error

    assert db_session.get(Demande, draft.id).status is DemandeStatus.BROUILLON  # type: ignore[union-attr]
    assert db_session.scalars(select(Grant)).all() == []
    assert templates_sent(db_session, family) == []
