"""Threads between a family and a service, through the service functions: writing, reading
(the read receipts), sharing a document under consent and withdrawing it, the e-mail notices
(over a real SMTP server) and who may see what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import Account, AgentService, Role, Service
from coffre.clock import FrozenClock
from coffre.consent import AgentReader, FamilyReader, check_access
from coffre.errors import AccessDenied
from coffre.models import Document, DocumentRead, Foyer
from coffre.vault import Vault
from messagerie import reading, threads
from messagerie.errors import MessageRefused, Refusal, ThreadNotFound
from messagerie.models import Message, Thread
from messagerie.notices import Links
from notifications import outbox
from notifications.outbox import MailSettings
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.tasks import AgentActor
from tests.coffre.conftest import deposit, pdf_of
from tests.factories import make_account, make_service
from tests.fixtures import Mailbox
from tests.procedures.flows import family_of, publish, submitted_creche
from worker.jobs import register_standard_jobs
from worker.loop import Worker

LINKS = Links(
    family=lambda i: f"https://portail.example/famille/messages/{i}",
    agent=lambda i: f"https://portail.example/agent/messages/{i}",
)
SECRET = "Mon fils a une allergie aux arachides"


def reader(family: FamilyActor) -> FamilyReader:
    return FamilyReader(account_id=family.account_id, foyer_id=family.foyer_id)


def agent_in(session: Session, clock: FrozenClock, service: Service) -> AgentActor:
    account = make_account(session, clock, Role.AGENT)
    session.add(AgentService(account_id=account.id, service_id=service.id))
    session.commit()
    return AgentActor(account.id, frozenset({service.id}))


def open_one(
    session: Session,
    clock: FrozenClock,
    family: FamilyActor,
    service: Service,
    documents: tuple[Document, ...] = (),
) -> Thread:
    new = threads.NewThread(
        service_id=service.id,
        subject="Inscription à la cantine",
        body=SECRET,
        document_ids=[document.id for document in documents],
    )
    return threads.open_thread(session, clock, reader(family), new, LINKS)


def test_a_family_opens_a_thread_and_the_service_answers(
    db_session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    service = make_service(db_session)
    family = family_of(db_session, clock, foyer)
    agent = agent_in(db_session, clock, service)

    thread = open_one(db_session, clock, family, service)
    clock.advance(timedelta(hours=1))
    threads.write_as_agent(db_session, clock, agent, thread.id, "Bien reçu.", LINKS)

    (line,) = reading.family_threads(db_session, foyer.id)
    assert (line.subject, line.service, line.unread) == (
        "Inscription à la cantine",
        service.name,
        1,
    )
    (agent_line,) = reading.service_threads(db_session, agent)
    assert (agent_line.foyer, agent_line.unread) == (foyer.label, 1)
    page = reading.read_as_family(db_session, clock, reader(family), thread.id)
    assert [(m.from_family, m.body) for m in page.messages] == [
        (True, SECRET),
        (False, "Bien reçu."),
    ]
    # The family reads the service's name, never the agent's.
    assert page.messages[1].author == service.name


def test_read_receipts_are_set_when_the_other_side_opens_the_thread(
    db_session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    service = make_service(db_session)
    family = family_of(db_session, clock, foyer)
    agent = agent_in(db_session, clock, service)
    thread = open_one(db_session, clock, family, service)
    threads.write_as_agent(db_session, clock, agent, thread.id, "Réponse", LINKS)

    # The family opening its thread reads the service's message, not its own.
    clock.advance(timedelta(minutes=5))
    page = reading.read_as_family(db_session, clock, reader(family), thread.id)
    assert [m.read_at for m in page.messages] == [None, clock.now()]
    assert reading.family_unread(db_session, foyer.id) == 0
    assert reading.service_unread(db_session, agent) == 1

    clock.advance(timedelta(minutes=5))
    page = reading.read_as_agent(db_session, clock, agent, thread.id)
    read_by_agent = clock.now()
    clock.advance(timedelta(minutes=5))
    page = reading.read_as_agent(db_session, clock, agent, thread.id)
    assert [m.read_at for m in page.messages] == [
        read_by_agent,
        read_by_agent - timedelta(minutes=5),
    ]
    assert reading.service_unread(db_session, agent) == 0


def test_each_side_sees_only_its_threads(
    db_session: Session, clock: FrozenClock, foyer: Foyer, other_foyer: Foyer
) -> None:
    service, other_service = make_service(db_session), make_service(db_session)
    family, stranger = (
        family_of(db_session, clock, foyer),
        family_of(db_session, clock, other_foyer),
    )
    outsider = agent_in(db_session, clock, other_service)
    thread = open_one(db_session, clock, family, service)

    with pytest.raises(ThreadNotFound):
        reading.read_as_family(db_session, clock, reader(stranger), thread.id)
    with pytest.raises(ThreadNotFound):
        threads.write_as_family(db_session, clock, reader(stranger), thread.id, "Bonjour", LINKS)
    with pytest.raises(ThreadNotFound):
        reading.read_as_agent(db_session, clock, outsider, thread.id)
    with pytest.raises(ThreadNotFound):
        threads.write_as_agent(db_session, clock, outsider, thread.id, "Bonjour", LINKS)
    assert reading.family_threads(db_session, other_foyer.id) == []
    assert reading.service_threads(db_session, outsider) == []
    assert reading.service_unread(db_session, outsider) == 0


def test_a_shared_document_is_read_through_the_vaults_check_until_withdrawn(
    db_session: Session, clock: FrozenClock, vault: Vault, foyer: Foyer
) -> None:
    service, other_service = make_service(db_session), make_service(db_session)
    family = family_of(db_session, clock, foyer)
    agent, outsider = (
        agent_in(db_session, clock, service),
        agent_in(db_session, clock, other_service),
    )
    content = pdf_of(2500)
    document = deposit(vault, db_session, foyer, content)
    thread = open_one(db_session, clock, family, service, (document,))

    opened = threads.open_document(db_session, vault, agent, thread.id, document.id)
    assert b"".join(opened.chunks) == content
    read = db_session.scalars(
        select(DocumentRead).where(DocumentRead.document_id == document.id)
    ).one()
    assert (read.reader_id, read.service_id, read.demande_id) == (
        agent.account_id,
        service.id,
        None,
    )
    # Shared in a thread is not shared with a demande, nor with another service.
    as_agent = AgentReader(agent.account_id, agent.service_ids)
    with pytest.raises(AccessDenied):
        check_access(db_session, as_agent, document.id, demande_id=thread.id)
    with pytest.raises(ThreadNotFound):
        threads.open_document(db_session, vault, outsider, thread.id, document.id)
    outsider_reader = AgentReader(outsider.account_id, outsider.service_ids)
    with pytest.raises(AccessDenied):
        check_access(db_session, outsider_reader, document.id, thread_id=thread.id)

    assert threads.withdraw_document(db_session, clock, reader(family), thread.id, document.id)
    with pytest.raises(AccessDenied):
        threads.open_document(db_session, vault, agent, thread.id, document.id)
    page = reading.read_as_agent(db_session, clock, agent, thread.id)
    (attachment,) = page.messages[0].attachments
    assert (attachment.shared, attachment.withdrawn_at) == (False, clock.now())
    assert not threads.withdraw_document(db_session, clock, reader(family), thread.id, document.id)


def test_a_family_shares_only_its_own_current_documents(
    db_session: Session, clock: FrozenClock, vault: Vault, foyer: Foyer, other_foyer: Foyer
) -> None:
    service = make_service(db_session)
    family = family_of(db_session, clock, foyer)
    theirs = deposit(vault, db_session, other_foyer)
    with pytest.raises(MessageRefused) as refused:
        open_one(db_session, clock, family, service, (theirs,))
    assert refused.value.refusal is Refusal.UNKNOWN_DOCUMENT
    db_session.rollback()

    old = deposit(vault, db_session, foyer, pdf_of(2000))
    deposit(vault, db_session, foyer, pdf_of(2001), replaces_id=old.id)
    with pytest.raises(MessageRefused) as refused:
        open_one(db_session, clock, family, service, (old,))
    assert refused.value.refusal is Refusal.DOCUMENT_NOT_SHAREABLE


@pytest.mark.parametrize(
    ("subject", "body", "refusal"),
    [
        ("Objet", "   ", Refusal.EMPTY),
        ("Objet", "x" * (threads.BODY_MAX + 1), Refusal.TOO_LONG),
        ("  ", "Bonjour", Refusal.NO_SUBJECT),
        ("o" * (threads.SUBJECT_MAX + 1), "Bonjour", Refusal.SUBJECT_TOO_LONG),
    ],
)
def test_a_message_within_its_limits_only(
    db_session: Session, clock: FrozenClock, foyer: Foyer, subject: str, body: str, refusal: Refusal
) -> None:
    service = make_service(db_session)
    family = family_of(db_session, clock, foyer)
    new = threads.NewThread(service_id=service.id, subject=subject, body=body)
    with pytest.raises(MessageRefused) as refused:
        threads.open_thread(db_session, clock, reader(family), new, LINKS)
    assert refused.value.refusal is refusal


def test_a_thread_about_a_demande_of_the_foyer_only(
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    vault: Vault,
    foyer: Foyer,
    other_foyer: Foyer,
    petite_enfance: Service,
) -> None:
    publish(db_session, clock, "creche")
    other = family_of(db_session, clock, other_foyer)
    theirs = submitted_creche(db_session, ctx, other, vault, other_foyer)
    family = family_of(db_session, clock, foyer)
    mine = submitted_creche(db_session, ctx, family, vault, foyer)

    new = threads.NewThread(petite_enfance.id, "Date d'entrée", "Bonjour", demande_id=theirs.id)
    with pytest.raises(MessageRefused) as refused:
        threads.open_thread(db_session, clock, reader(family), new, LINKS)
    assert refused.value.refusal is Refusal.UNKNOWN_DEMANDE
    db_session.rollback()

    new = threads.NewThread(petite_enfance.id, "Date d'entrée", "Bonjour", demande_id=mine.id)
    thread = threads.open_thread(db_session, clock, reader(family), new, LINKS)
    page = reading.read_as_family(db_session, clock, reader(family), thread.id)
    assert page.demande is not None and str(mine.number) in page.demande
    assert [c.id for c in reading.demandes(db_session, foyer.id)] == [mine.id]


def test_the_e_mails_say_who_wrote_and_where_never_what(
    db_session: Session,
    clock: FrozenClock,
    foyer: Foyer,
    mail: MailSettings,
    mailbox: Mailbox,
) -> None:
    service = make_service(db_session)
    family = family_of(db_session, clock, foyer)
    second_adult = make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id)
    agent = agent_in(db_session, clock, service)
    agent_email = db_session.get_one(Account, agent.account_id).email
    family_email = db_session.get_one(Account, family.account_id).email

    thread = open_one(db_session, clock, family, service)
    threads.write_as_agent(db_session, clock, agent, thread.id, "Voici la réponse détaillée", LINKS)
    assert outbox.send_due(db_session, clock, mail) == 3

    (to_agent,) = mailbox.to(agent_email)
    assert (
        to_agent["Subject"]
        == f"Service {service.name} : vous avez un nouveau message d'une famille"
    )
    assert f"https://portail.example/agent/messages/{thread.id}" in to_agent.get_content()
    for email in (family_email, second_adult.email):
        (notice,) = mailbox.to(email)
        assert notice["Subject"] == f"Vous avez un nouveau message de {service.name}"
        assert f"https://portail.example/famille/messages/{thread.id}" in notice.get_content()
    for message in mailbox.messages:
        text = message["Subject"] + message.get_content()
        for secret in (SECRET, "Inscription à la cantine", "Voici la réponse", foyer.label):
            assert secret not in text


def test_one_notice_per_waiting_conversation(
    db_session: Session, clock: FrozenClock, foyer: Foyer, mail: MailSettings
) -> None:
    service = make_service(db_session)
    family = family_of(db_session, clock, foyer)
    agent = agent_in(db_session, clock, service)
    thread = open_one(db_session, clock, family, service)
    assert outbox.send_due(db_session, clock, mail) == 1

    # Unread yet: the agents were told already.
    threads.write_as_family(db_session, clock, reader(family), thread.id, "Un ajout", LINKS)
    assert outbox.send_due(db_session, clock, mail) == 0
    # Read: the next message is news again.
    reading.read_as_agent(db_session, clock, agent, thread.id)
    threads.write_as_family(db_session, clock, reader(family), thread.id, "Encore un", LINKS)
    assert outbox.send_due(db_session, clock, mail) == 1


def test_the_threads_of_a_deleted_vault_are_erased_with_it(
    sessions: sessionmaker[Session],
    db_session: Session,
    clock: FrozenClock,
    vault: Vault,
    foyer: Foyer,
    other_foyer: Foyer,
) -> None:
    service = make_service(db_session)
    family, other = family_of(db_session, clock, foyer), family_of(db_session, clock, other_foyer)
    document = deposit(vault, db_session, foyer)
    gone = open_one(db_session, clock, family, service, (document,)).id
    kept = open_one(db_session, clock, other, service).id
    assert threads.erase_deleted_foyers(db_session) == 0

    vault.shred_foyer(db_session, foyer.id, family.account_id)
    worker = Worker(sessions=sessions, clock=clock, name="messages")
    register_standard_jobs(worker, vault, None, "https://portail.test")
    worker.tick(clock.now())  # its deleted-threads job

    db_session.expire_all()
    assert db_session.get(Thread, gone) is None
    assert db_session.scalars(select(Message).where(Message.thread_id == gone)).all() == []
    assert db_session.get(Thread, kept) is not None
