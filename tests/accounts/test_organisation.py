"""Administration services: reach of global and entity administrators, agents, journal, types."""

from __future__ import annotations

import json
from datetime import date

import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import agents as admin_agents
from accounts import document_types as admin_document_types
from accounts import organisation, second_factor
from accounts.activation import InvalidToken
from accounts.agents import AgentStatus, Invitation
from accounts.credentials import InvalidCredentials, WeakPassword, authenticate
from accounts.document_types import DocumentTypeRules
from accounts.models import Account, AdminJournalEntry, AgentService, Role, Service
from accounts.organisation import InvalidValue, NotAnAdministrator, NotFound, OutsideScope
from coffre.catalogue import DOCUMENT_TYPES, JPEG, PDF, PNG, Validity, configured_type
from coffre.clock import FrozenClock
from coffre.inspection.uploads import UploadRefused
from coffre.models import Foyer
from coffre.vault import Vault
from notifications.models import OutboxMessage
from notifications.outbox import MailSettings, send_due
from procedures import demandes, tasks
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.models import TaskState
from procedures.tasks import AgentActor
from tests.coffre.conftest import deposit, tiny_png
from tests.factories import PASSWORD, make_account, make_agent
from tests.fixtures import Mailbox
from tests.procedures.flows import open_task, publish, submitted_creche

SECRET = "a-test-secret-that-is-long-enough-to-sign"
NEW_PASSWORD = "une phrase de passe toute neuve"


def link(token: str) -> str:
    return f"https://portail.example/admin/invitation/{token}"


def token_of(session: Session, email: str) -> str:
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == email))
    assert message is not None and message.template == "invitation_agent"
    return str(json.loads(message.context)["lien"]).rsplit("/", 1)[1]


def entries(session: Session) -> list[AdminJournalEntry]:
    return list(session.scalars(select(AdminJournalEntry).order_by(AdminJournalEntry.id)))


def invite(
    session: Session, clock: FrozenClock, actor: Account, service: Service, email: str
) -> int:
    invitation = Invitation(
        email=email, display_name="Camille Agent", memberships={service.id: False}
    )
    return admin_agents.invite_agent(session, clock, actor.id, invitation, secret=SECRET, link=link)


# --- entities and services ----------------------------------------------------------------


def test_global_admin_creates_an_entity_and_a_service_and_both_are_journaled(
    db_session: Session, clock: FrozenClock, global_admin: Account
) -> None:
    entity_id = organisation.create_entity(
        db_session, clock, global_admin.id, slug="agglo", name="Agglomération"
    )
    service_id = organisation.create_service(
        db_session, clock, global_admin.id, entity_id, code="piscines", name="Piscines"
    )

    names = {
        e.name: [s.code for s in e.services]
        for e in organisation.entities(db_session, global_admin.id)
    }
    assert names["Agglomération"] == ["piscines"]
    created_entity, created_service = entries(db_session)
    assert (created_entity.action, created_entity.actor_id) == ("entity.created", global_admin.id)
    assert created_entity.before is None
    assert json.loads(created_entity.after or "") == {"slug": "agglo", "name": "Agglomération"}
    assert (created_service.target_id, created_service.entity_id) == (str(service_id), entity_id)


def test_renaming_a_service_journals_its_name_before_and_after(
    db_session: Session, clock: FrozenClock, ville_admin: Account, ville: Service
) -> None:
    old_name = ville.name
    organisation.rename_service(db_session, clock, ville_admin.id, ville.id, "  Petite   enfance ")

    (entry,) = entries(db_session)
    assert entry.action == "service.renamed"
    assert json.loads(entry.before or "")["name"] == old_name
    assert json.loads(entry.after or "")["name"] == "Petite enfance"
    assert entry.entity_id == ville.entity_id


def test_an_entity_admin_acts_only_within_its_entity(
    db_session: Session, clock: FrozenClock, ville_admin: Account, ville: Service, partner: Service
) -> None:
    with pytest.raises(OutsideScope):
        organisation.create_entity(db_session, clock, ville_admin.id, slug="autre", name="Autre")
    with pytest.raises(OutsideScope):
        organisation.rename_entity(db_session, clock, ville_admin.id, ville.entity_id, "Ville")
    with pytest.raises(NotFound):
        organisation.rename_service(db_session, clock, ville_admin.id, partner.id, "Pris")
    with pytest.raises(NotFound):
        organisation.create_service(
            db_session, clock, ville_admin.id, partner.entity_id, code="intrus", name="Intrus"
        )

    created = organisation.create_service(
        db_session, clock, ville_admin.id, ville.entity_id, code="sports", name="Sports"
    )

    assert [e.id for e in organisation.entities(db_session, ville_admin.id)] == [ville.entity_id]
    assert db_session.get(Service, created) is not None
    assert db_session.get(Service, partner.id).name != "Pris"  # type: ignore[union-attr]


def test_codes_must_be_well_formed_and_unique(
    db_session: Session, clock: FrozenClock, global_admin: Account, ville: Service
) -> None:
    with pytest.raises(InvalidValue) as bad:
        organisation.create_service(
            db_session, clock, global_admin.id, ville.entity_id, code="Pas un code!", name="X"
        )
    assert (bad.value.field, bad.value.reason) == ("code", "format")
    with pytest.raises(InvalidValue) as taken:
        organisation.create_service(
            db_session, clock, global_admin.id, ville.entity_id, code=ville.code, name="X"
        )
    assert taken.value.reason == "taken"
    with pytest.raises(InvalidValue) as blank:
        organisation.create_entity(db_session, clock, global_admin.id, slug="ok", name="   ")
    assert blank.value.reason == "blank"


def test_families_and_agents_are_not_administrators(
    db_session: Session, clock: FrozenClock, ville: Service
) -> None:
    family = make_account(db_session, clock, Role.FAMILLE)
    agent = make_agent(db_session, clock, ville)
    for account in (family, agent):
        with pytest.raises(NotAnAdministrator):
            organisation.entities(db_session, account.id)
        with pytest.raises(NotAnAdministrator):
            organisation.rename_service(db_session, clock, account.id, ville.id, "Pris")


# --- agents -------------------------------------------------------------------------------


def test_invited_agent_gets_an_e_mail_whose_link_sets_the_password_once(
    db_session: Session,
    clock: FrozenClock,
    ville_admin: Account,
    ville: Service,
    mail: MailSettings,
    mailbox: Mailbox,
) -> None:
    agent_id = invite(db_session, clock, ville_admin, ville, "Camille@Ville.example")
    token = token_of(db_session, "camille@ville.example")
    with pytest.raises(InvalidCredentials):  # no password yet: nothing signs in
        authenticate(db_session, clock, "camille@ville.example", "!")

    assert send_due(db_session, clock, mail) == 1
    (message,) = mailbox.to("camille@ville.example")
    assert link(token) in message.get_content()
    assert (
        admin_agents.check_invitation(db_session, clock, secret=SECRET, token=token).id == agent_id
    )
    with pytest.raises(WeakPassword):
        admin_agents.accept_invitation(
            db_session, clock, secret=SECRET, token=token, password="court"
        )
    admin_agents.accept_invitation(
        db_session, clock, secret=SECRET, token=token, password=NEW_PASSWORD
    )

    assert authenticate(db_session, clock, "camille@ville.example", NEW_PASSWORD).id == agent_id
    with pytest.raises(InvalidToken):
        admin_agents.check_invitation(db_session, clock, secret=SECRET, token=token)
    (entry,) = entries(db_session)
    assert entry.action == "agent.invited" and entry.entity_id == ville.entity_id
    assert json.loads(entry.after or "")["services"] == {ville.code: "agent"}
    assert NEW_PASSWORD not in (entry.after or "") and token not in (entry.after or "")


def test_an_invitation_link_expires_and_a_resent_one_replaces_it(
    db_session: Session, clock: FrozenClock, ville_admin: Account, ville: Service
) -> None:
    agent_id = invite(db_session, clock, ville_admin, ville, "lent@ville.example")
    first = token_of(db_session, "lent@ville.example")
    admin_agents.resend_invitation(
        db_session, clock, ville_admin.id, agent_id, secret=SECRET, link=link
    )
    with pytest.raises(InvalidToken):
        admin_agents.check_invitation(db_session, clock, secret=SECRET, token=first)

    clock.advance(admin_agents.INVITATION_VALIDITY * 2)
    latest = db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient == "lent@ville.example")
    ).all()[-1]
    second = str(json.loads(latest.context)["lien"]).rsplit("/", 1)[1]
    with pytest.raises(InvalidToken):
        admin_agents.check_invitation(db_session, clock, secret=SECRET, token=second)


def test_an_entity_admin_cannot_see_or_change_agents_of_another_entity(
    db_session: Session, clock: FrozenClock, ville_admin: Account, ville: Service, partner: Service
) -> None:
    mine = make_agent(db_session, clock, ville)
    theirs = make_agent(db_session, clock, partner)
    shared = make_agent(db_session, clock, ville)
    db_session.add(AgentService(account_id=shared.id, service_id=partner.id))
    db_session.commit()

    assert [a.id for a in admin_agents.agents(db_session, ville_admin.id)] == [mine.id]
    for other in (theirs, shared):
        with pytest.raises(NotFound):
            admin_agents.agent(db_session, ville_admin.id, other.id)
        with pytest.raises(NotFound):
            admin_agents.set_agent_active(db_session, clock, ville_admin.id, other.id, active=False)
        with pytest.raises(NotFound):
            admin_agents.reset_agent_second_factor(db_session, clock, ville_admin.id, other.id)
    with pytest.raises(NotFound):  # nor hand out another entity's service
        admin_agents.set_agent_services(
            db_session, clock, ville_admin.id, mine.id, {partner.id: True}
        )
    with pytest.raises(NotFound):
        invite(db_session, clock, ville_admin, partner, "intrus@ville.example")
    assert theirs.is_active and shared.is_active and entries(db_session) == []


def test_setting_services_and_supervision_is_journaled(
    db_session: Session, clock: FrozenClock, global_admin: Account, ville: Service, partner: Service
) -> None:
    agent = make_agent(db_session, clock, ville)
    admin_agents.set_agent_services(
        db_session, clock, global_admin.id, agent.id, {ville.id: True, partner.id: False}
    )
    with pytest.raises(InvalidValue):
        admin_agents.set_agent_services(db_session, clock, global_admin.id, agent.id, {})

    view = admin_agents.agent(db_session, global_admin.id, agent.id)
    assert {(m.service_id, m.is_supervisor) for m in view.memberships} == {
        (ville.id, True),
        (partner.id, False),
    }
    (entry,) = entries(db_session)
    assert json.loads(entry.before or "") == {"services": {ville.code: "agent"}}
    assert json.loads(entry.after or "") == {
        "services": {ville.code: "supervisor", partner.code: "agent"}
    }


def test_resetting_an_agents_second_factor_makes_it_enrol_again(
    db_session: Session, clock: FrozenClock, ville_admin: Account, ville: Service, vault: Vault
) -> None:
    agent = make_agent(db_session, clock, ville)
    enrolment = second_factor.start_enrolment(db_session, vault.keyring, agent.id)
    code = pyotp.TOTP(enrolment.secret).at(clock.now())
    second_factor.confirm_enrolment(db_session, clock, vault.keyring, agent.id, code)

    admin_agents.reset_agent_second_factor(db_session, clock, ville_admin.id, agent.id)

    assert not second_factor.is_enrolled(db_session.get(Account, agent.id))  # type: ignore[arg-type]
    (entry,) = entries(db_session)
    assert (entry.before, entry.after) == ('{"second_factor": true}', '{"second_factor": false}')
    assert enrolment.secret not in json.dumps([entry.before, entry.after])


def test_a_deactivated_agent_cannot_sign_in_until_reactivated(
    db_session: Session, clock: FrozenClock, ville_admin: Account, ville: Service
) -> None:
    agent = make_agent(db_session, clock, ville)
    admin_agents.set_agent_active(db_session, clock, ville_admin.id, agent.id, active=False)

    with pytest.raises(InvalidCredentials):
        authenticate(db_session, clock, agent.email, PASSWORD)
    assert (
        admin_agents.agent(db_session, ville_admin.id, agent.id).status is AgentStatus.DEACTIVATED
    )
    with pytest.raises(admin_agents.InvalidAgentState):
        admin_agents.set_agent_active(db_session, clock, ville_admin.id, agent.id, active=False)

    admin_agents.set_agent_active(db_session, clock, ville_admin.id, agent.id, active=True)
    assert authenticate(db_session, clock, agent.email, PASSWORD).id == agent.id
    assert [e.action for e in entries(db_session)] == ["agent.deactivated", "agent.reactivated"]


def test_a_deactivated_agents_tasks_go_back_to_its_services_queue(
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    family: FamilyActor,
    vault: Vault,
    foyer: Foyer,
    petite_enfance: Service,
) -> None:
    publish(db_session, clock, "creche")
    admin = make_account(db_session, clock, Role.ADMIN, entity_id=petite_enfance.entity_id)
    leaving, colleague = (make_agent(db_session, clock, petite_enfance) for _ in range(2))
    on_it, other = (AgentActor(a.id, frozenset({petite_enfance.id})) for a in (leaving, colleague))
    taken, asked, kept = (
        open_task(db_session, submitted_creche(db_session, ctx, family, vault, foyer))
        for _ in range(3)
    )
    tasks.claim(db_session, ctx, on_it, taken.id)
    tasks.claim(db_session, ctx, on_it, asked.id)
    tasks.ask_family(db_session, ctx, on_it, asked.id, "Une facture plus récente", [])
    tasks.claim(db_session, ctx, other, kept.id)

    admin_agents.set_agent_active(db_session, clock, admin.id, leaving.id, active=False)

    assert (taken.state, taken.assignee_id) == (TaskState.OPEN, None)
    assert (asked.state, asked.assignee_id) == (TaskState.WAITING_FAMILY, None)
    assert (kept.state, kept.assignee_id) == (TaskState.CLAIMED, colleague.id)
    [journaled] = entries(db_session)
    assert json.loads(journaled.after or "{}") == {"active": False, "released_tasks": 2}
    # The family's answer brings the step back to the queue, not to the agent who left.
    demandes.answer(db_session, ctx, family, asked.demande_id, "La voici", [])
    assert (asked.state, asked.assignee_id) == (TaskState.OPEN, None)


def test_a_cancelled_invitation_removes_the_account_and_its_link(
    db_session: Session, clock: FrozenClock, ville_admin: Account, ville: Service
) -> None:
    agent_id = invite(db_session, clock, ville_admin, ville, "annule@ville.example")
    token = token_of(db_session, "annule@ville.example")
    with pytest.raises(admin_agents.InvalidAgentState):  # not active yet: cancel instead
        admin_agents.set_agent_active(db_session, clock, ville_admin.id, agent_id, active=False)

    admin_agents.cancel_invitation(db_session, clock, ville_admin.id, agent_id)

    assert db_session.get(Account, agent_id) is None
    with pytest.raises(InvalidToken):
        admin_agents.check_invitation(db_session, clock, secret=SECRET, token=token)


def test_an_entity_admin_reads_only_its_entitys_journal(
    db_session: Session,
    clock: FrozenClock,
    global_admin: Account,
    ville_admin: Account,
    ville: Service,
    partner: Service,
) -> None:
    organisation.rename_service(db_session, clock, global_admin.id, ville.id, "Écoles")
    organisation.rename_service(db_session, clock, global_admin.id, partner.id, "Quartiers")

    seen = organisation.journal(db_session, ville_admin.id)
    everything = organisation.journal(db_session, global_admin.id)

    assert [line.after for line in seen] == [
        {"code": ville.code, "name": "Écoles", "entity_id": ville.entity_id}
    ]
    assert [line.target_id for line in everything] == [str(partner.id), str(ville.id)]
    assert everything[0].actor == global_admin.display_name


# --- document types -----------------------------------------------------------------------


def test_document_type_rules_apply_to_new_deposits(
    db_session: Session, clock: FrozenClock, global_admin: Account, vault: Vault, foyer: Foyer
) -> None:
    rules = DocumentTypeRules(
        validity=Validity.MONTHS, months=6, reusable=False, formats=frozenset({PDF})
    )
    admin_document_types.set_document_type_rules(
        db_session, clock, global_admin.id, "justificatif_domicile", rules
    )

    document = deposit(vault, db_session, foyer, issued_on=date(2026, 8, 20))
    assert document.valid_until == date(2027, 2, 20)
    assert not configured_type(db_session, "justificatif_domicile").reusable
    with pytest.raises(UploadRefused):
        deposit(vault, db_session, foyer, tiny_png(), filename="facture.png")
    (entry,) = entries(db_session)
    assert json.loads(entry.before or "") == {
        "validity": "months",
        "months": 3,
        "reusable": True,
        "formats": ["PDF", "JPEG", "PNG"],
    }
    assert json.loads(entry.after or "")["formats"] == ["PDF"]

    admin_document_types.restore_document_type(
        db_session, clock, global_admin.id, "justificatif_domicile"
    )
    assert configured_type(db_session, "justificatif_domicile").formats == {PDF, JPEG, PNG}


def test_only_a_global_admin_changes_document_types_and_rules_are_checked(
    db_session: Session, clock: FrozenClock, global_admin: Account, ville_admin: Account
) -> None:
    rules = DocumentTypeRules(
        validity=Validity.MONTHS, months=0, reusable=True, formats=frozenset({PDF})
    )
    with pytest.raises(OutsideScope):
        admin_document_types.set_document_type_rules(
            db_session, clock, ville_admin.id, "rib", rules
        )
    with pytest.raises(InvalidValue) as months:
        admin_document_types.set_document_type_rules(
            db_session, clock, global_admin.id, "rib", rules
        )
    assert months.value.field == "months"
    no_format = DocumentTypeRules(
        validity=Validity.UNLIMITED, months=0, reusable=True, formats=frozenset()
    )
    with pytest.raises(InvalidValue):
        admin_document_types.set_document_type_rules(
            db_session, clock, global_admin.id, "rib", no_format
        )
    with pytest.raises(NotFound):
        admin_document_types.document_type_of(db_session, ville_admin.id, "inconnu")
    assert [
        t.customised for t in admin_document_types.document_types(db_session, ville_admin.id)
    ] == [False] * len(DOCUMENT_TYPES)  # nothing was changed, every type listed
