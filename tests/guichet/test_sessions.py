"""Counter mode's services: who may act, the search, each act journaled and e-mailed."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.household import FoyerNotFound
from accounts.models import Account, Role, Service
from coffre.clock import FrozenClock
from coffre.models import Channel, Foyer, JournalEntry
from coffre.vault import Vault
from guichet import sessions
from guichet.acts import record_act
from guichet.rights import CounterNotAllowed
from notifications.models import OutboxMessage
from notifications.outbox import MailSettings, send_due
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from tests.coffre.conftest import deposit, make_foyer
from tests.factories import make_account, make_agent, make_service
from tests.fixtures import Mailbox
from tests.procedures.flows import journal_of, publish, submitted_creche

LINK = "https://famille.ville.example/famille/"


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock) -> Account:
    """An agent of a service that runs the town's counter."""
    return make_agent(db_session, clock, make_service(db_session, runs_counter=True))


def acts(session: Session, foyer_id: int) -> list[JournalEntry]:
    return [entry for entry in journal_of(session, foyer_id) if entry.event == "guichet.act"]


def test_only_an_agent_of_a_service_may_act_at_the_counter(
    db_session: Session, clock: FrozenClock, foyer: Foyer, agent: Account
) -> None:
    family = make_account(db_session, clock, Role.FAMILLE)
    admin = make_account(db_session, clock, Role.ADMIN)
    lone_agent = make_account(db_session, clock, Role.AGENT)  # in no service

    for account in (family, admin, lone_agent):
        with pytest.raises(CounterNotAllowed):
            sessions.open_counter(db_session, clock, account.id, foyer.id, link=LINK)
    counter = sessions.open_counter(db_session, clock, agent.id, foyer.id, link=LINK)

    assert (counter.agent_id, counter.foyer_id) == (agent.id, foyer.id)


def test_search_gives_at_most_the_limit_in_label_order(
    db_session: Session, clock: FrozenClock, agent: Account
) -> None:
    for name in ("Durand C", "Durand A", "Durand B", "Dupont"):
        make_foyer(db_session, clock, name)

    found = sessions.search_foyers(db_session, agent.id, "durand", limit=2)

    assert [match.label for match in found] == ["Durand A", "Durand B"]
    assert found[0].adults == ("Alex Durand A",) and found[0].children == ("Lou Durand A",)
    assert sessions.search_foyers(db_session, agent.id, "  ,;  ") == []


def test_search_ignores_case_accents_and_ligatures(
    db_session: Session, clock: FrozenClock, agent: Account
) -> None:
    foyer = make_foyer(db_session, clock, "Famille Désiré")
    foyer.members[0].first_name, foyer.members[0].last_name = "ÉLODIE", "Lœwy"
    make_foyer(db_session, clock, "Famille Dupont")
    db_session.commit()

    for text in ("elodie", "Élodie LOEWY", "desire", "DÉSIRÉ lou"):
        found = sessions.search_foyers(db_session, agent.id, text)
        assert [m.foyer_id for m in found] == [foyer.id], text
    assert sessions.search_foyers(db_session, agent.id, "elodie dupont") == []


def test_an_act_reaches_every_family_account_by_email_in_french(
    db_session: Session,
    clock: FrozenClock,
    vault: Vault,
    foyer: Foyer,
    agent: Account,
    mail: MailSettings,
    mailbox: Mailbox,
) -> None:
    parents = [make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id) for _ in "ab"]
    counter = sessions.open_counter(db_session, clock, agent.id, foyer.id, link=LINK)
    deposit(vault, db_session, foyer, actor_id=agent.id, channel=Channel.GUICHET)

    counter = record_act(db_session, clock, counter, page="famille.ajouter", link=LINK)

    assert send_due(db_session, clock, mail) == 4  # the opening, then the act, to each
    received = mailbox.to(parents[0].email)[-1]
    assert received["Subject"] == "Une démarche a été faite pour vous au guichet"
    body = received.get_body().get_content()  # type: ignore[union-attr]
    assert f"Au guichet de votre commune, {agent.display_name} a fait pour votre foyer" in body
    assert "- dépôt du justificatif « Justificatif de domicile » dans votre coffre-fort" in body
    assert LINK in body
    assert len(mailbox.to(parents[1].email)) == 2

    # The next act finds nothing new: journaled, but the family is not told twice.
    record_act(db_session, clock, counter, page="famille.demande_formulaire", link=LINK)
    assert send_due(db_session, clock, mail) == 0
    details = [json.loads(entry.details) for entry in acts(db_session, foyer.id)]
    assert details == [
        {"page": "famille.ajouter", "changes": 1},
        {"page": "famille.demande_formulaire", "changes": 0},
    ]


def test_a_household_created_at_the_counter_has_its_acts_journaled_before_any_account(
    db_session: Session, clock: FrozenClock, agent: Account
) -> None:
    created = sessions.create_foyer(
        db_session, clock, agent.id, first_name=" Inès ", last_name="Benoît"
    )
    counter = sessions.open_counter(db_session, clock, agent.id, created.foyer_id, link=LINK)

    record_act(db_session, clock, counter, page="famille.foyer_adresse", link=LINK, household=True)

    assert "one_time_code" not in repr(created)
    assert db_session.get_one(Foyer, created.foyer_id).label == "Foyer Inès Benoît"
    [act] = acts(db_session, created.foyer_id)
    assert act.actor_id == agent.id and json.loads(act.details)["changes"] == 1
    assert db_session.scalars(select(OutboxMessage)).all() == []


# --- who may open which foyer, who prints codes (guichet.rights) ------------------


def test_an_agent_opens_only_the_foyers_its_entity_deals_with(
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    vault: Vault,
    foyer: Foyer,
    other_foyer: Foyer,
    family: FamilyActor,
    petite_enfance: Service,
    agent: Account,
) -> None:
    publish(db_session, clock, "creche")
    submitted_creche(db_session, ctx, family, vault, foyer)  # handled by petite_enfance
    colleague_service = Service(entity_id=petite_enfance.entity_id, code="accueil", name="Accueil")
    db_session.add(colleague_service)
    db_session.commit()
    partner = make_agent(db_session, clock, petite_enfance)
    colleague = make_agent(db_session, clock, colleague_service)  # same entity, other service

    for account in (partner, colleague):
        sessions.open_counter(db_session, clock, account.id, foyer.id, link=LINK)
        with pytest.raises(FoyerNotFound):
            sessions.open_counter(db_session, clock, account.id, other_foyer.id, link=LINK)
        assert sessions.search_foyers(db_session, account.id, "nguyen") == []
        with pytest.raises(CounterNotAllowed):
            sessions.new_family_code(db_session, clock, account.id, foyer.id, link=LINK)
        with pytest.raises(CounterNotAllowed):
            sessions.create_foyer(db_session, clock, account.id, first_name="A", last_name="B")
    # The town's counter serves every family, whether it asked for anything yet or not.
    assert [m.label for m in sessions.search_foyers(db_session, agent.id, "nguyen")] == ["Nguyen"]
    sessions.open_counter(db_session, clock, agent.id, other_foyer.id, link=LINK)
    sessions.new_family_code(db_session, clock, agent.id, other_foyer.id, link=LINK)


def test_opening_and_printing_a_code_are_emailed_to_the_adults_in_french(
    db_session: Session,
    clock: FrozenClock,
    foyer: Foyer,
    agent: Account,
    mail: MailSettings,
    mailbox: Mailbox,
) -> None:
    parent = make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id)

    sessions.open_counter(db_session, clock, agent.id, foyer.id, link=LINK)
    sessions.new_family_code(db_session, clock, agent.id, foyer.id, link=LINK)

    assert send_due(db_session, clock, mail) == 2
    opened, coded = mailbox.to(parent.email)
    assert opened["Subject"] == "L'espace de votre foyer a été ouvert au guichet"
    assert coded["Subject"] == "Un code famille a été remis pour votre foyer"
    for message in (opened, coded):
        body = message.get_body().get_content()  # type: ignore[union-attr]
        assert agent.display_name in body and LINK in body
    events = [entry.event for entry in journal_of(db_session, foyer.id)]
    assert events == ["guichet.opened", "guichet.code_issued"]
