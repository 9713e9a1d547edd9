"""Counter mode's services: who may act, the search, each act journaled and e-mailed."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from coffre.clock import FrozenClock
from coffre.models import Channel, Foyer, JournalEntry
from coffre.vault import Vault
from procedures import guichet
from procedures.guichet_actes import record_act
from procedures.models import Account, OutboxMessage, Role
from procedures.notifications import MailSettings, send_due
from tests.coffre.conftest import deposit, make_foyer
from tests.factories import make_account, make_agent
from tests.procedures.conftest import Mailbox

LINK = "https://famille.ville.example/famille/"


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock) -> Account:
    return make_agent(db_session, clock)


def acts(session: Session, foyer_id: int) -> list[JournalEntry]:
    query = select(JournalEntry).where(
        JournalEntry.foyer_id == foyer_id, JournalEntry.event == "guichet.act"
    )
    return list(session.scalars(query.order_by(JournalEntry.seq)))


def test_only_an_agent_of_a_service_may_act_at_the_counter(
    db_session: Session, clock: FrozenClock, foyer: Foyer, agent: Account
) -> None:
    family = make_account(db_session, clock, Role.FAMILLE)
    admin = make_account(db_session, clock, Role.ADMIN)
    lone_agent = make_account(db_session, clock, Role.AGENT)  # in no service

    for account in (family, admin, lone_agent):
        with pytest.raises(guichet.CounterNotAllowed):
            guichet.open_counter(db_session, clock, account.id, foyer.id)
    counter = guichet.open_counter(db_session, clock, agent.id, foyer.id)

    assert (counter.agent_id, counter.foyer_id) == (agent.id, foyer.id)


def test_search_gives_at_most_the_limit_in_label_order(
    db_session: Session, clock: FrozenClock
) -> None:
    for name in ("Durand C", "Durand A", "Durand B", "Dupont"):
        make_foyer(db_session, clock, name)

    found = guichet.search_foyers(db_session, "durand", limit=2)

    assert [match.label for match in found] == ["Durand A", "Durand B"]
    assert found[0].adults == ("Alex Durand A",) and found[0].children == ("Lou Durand A",)
    assert guichet.search_foyers(db_session, "  ,;  ") == []


def test_search_ignores_case_accents_and_ligatures(db_session: Session, clock: FrozenClock) -> None:
    foyer = make_foyer(db_session, clock, "Famille Désiré")
    foyer.members[0].first_name, foyer.members[0].last_name = "ÉLODIE", "Lœwy"
    make_foyer(db_session, clock, "Famille Dupont")
    db_session.commit()

    for text in ("elodie", "Élodie LOEWY", "desire", "DÉSIRÉ lou"):
        assert [m.foyer_id for m in guichet.search_foyers(db_session, text)] == [foyer.id], text
    assert guichet.search_foyers(db_session, "elodie dupont") == []


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
    counter = guichet.open_counter(db_session, clock, agent.id, foyer.id)
    deposit(vault, db_session, foyer, actor_id=agent.id, channel=Channel.GUICHET)

    counter = record_act(db_session, clock, counter, page="famille.ajouter", link=LINK)

    assert send_due(db_session, clock, mail) == 2
    [received] = mailbox.to(parents[0].email)
    assert received["Subject"] == "Une démarche a été faite pour vous au guichet"
    body = received.get_body().get_content()  # type: ignore[union-attr]
    assert f"Au guichet de votre commune, {agent.display_name} a fait pour votre foyer" in body
    assert "- dépôt du justificatif « Justificatif de domicile » dans votre coffre-fort" in body
    assert LINK in body
    assert len(mailbox.to(parents[1].email)) == 1

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
    created = guichet.create_foyer(
        db_session, clock, agent.id, first_name=" Inès ", last_name="Benoît"
    )
    counter = guichet.open_counter(db_session, clock, agent.id, created.foyer_id)

    record_act(db_session, clock, counter, page="famille.foyer_adresse", link=LINK, household=True)

    assert "one_time_code" not in repr(created)
    assert db_session.get_one(Foyer, created.foyer_id).label == "Foyer Inès Benoît"
    [act] = acts(db_session, created.foyer_id)
    assert act.actor_id == agent.id and json.loads(act.details)["changes"] == 1
    assert db_session.scalars(select(OutboxMessage)).all() == []
