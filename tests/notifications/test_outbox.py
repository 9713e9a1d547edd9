from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from accounts.family import expiry_reminders
from accounts.models import Role
from coffre.clock import FrozenClock
from coffre.db import make_session_factory
from coffre.models import Foyer
from coffre.vault import Vault
from notifications.models import OutboxMessage
from notifications.outbox import MailSettings, enqueue, message_id, send_due
from notifications.templates import InvalidNotification
from tests.coffre.conftest import deposit
from tests.factories import make_account
from tests.fixtures import REFUSED_RECIPIENT, Mailbox
from tests.stockage.conftest import free_port

FAMILY = "famille.martin@test.example"
RECEIVED = {"demarche": "Inscription à la cantine", "reference": "DEM-2026-0042"}


def _queue_receipt(session: Session, clock: FrozenClock, recipient: str = FAMILY) -> OutboxMessage:
    key = f"demande-recue:{recipient}"
    context = {**RECEIVED, "lien": "https://mairie.example/famille/demandes/42"}
    assert enqueue(
        session, clock, key=key, recipient=recipient, template="demande_recue", context=context
    )
    session.commit()
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
    assert message is not None
    return message


def _unreachable(mail: MailSettings) -> MailSettings:
    return replace(mail, port=free_port())  # nothing listens once the probe has closed


def test_queued_message_is_delivered_once_in_french(
    db_session: Session, clock: FrozenClock, mail: MailSettings, mailbox: Mailbox
) -> None:
    message = _queue_receipt(db_session, clock)

    assert send_due(db_session, clock, mail) == 1

    [received] = mailbox.to(FAMILY)
    assert received["Subject"] == "Demande DEM-2026-0042 : nous avons bien reçu votre demande"
    assert received["From"] == mail.sender
    assert received["Message-ID"] == message_id(message.idempotency_key, mail.sender)
    body = received.get_content()
    assert "Nous avons bien reçu votre demande « Inscription à la cantine »" in body
    assert "https://mairie.example/famille/demandes/42" in body
    assert message.sent_at == clock.now()


def test_a_sent_message_is_not_sent_again(
    db_session: Session, clock: FrozenClock, mail: MailSettings, mailbox: Mailbox
) -> None:
    _queue_receipt(db_session, clock)

    send_due(db_session, clock, mail)
    clock.advance(timedelta(days=1))

    assert send_due(db_session, clock, mail) == 0
    assert len(mailbox.messages) == 1


def test_the_same_key_queues_one_message(db_session: Session, clock: FrozenClock) -> None:
    context = {**RECEIVED, "lien": "https://mairie.example/"}
    queued = [
        enqueue(
            db_session,
            clock,
            key="demande-recue:42",
            recipient=FAMILY,
            template="demande_recue",
            context=context,
        )
        for _ in range(2)
    ]
    db_session.commit()

    assert queued == [True, False]
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


@pytest.mark.parametrize("first_ends", ["commit", "rollback"])
def test_two_transactions_queueing_one_event_at_once_queue_it_once(
    own_database: Engine, first_ends: str
) -> None:
    """The second waits for the first (its row, or SQLite's write lock), then queues only if
    the first did not commit."""
    sessions = make_session_factory(own_database)
    clock = FrozenClock()
    context = {**RECEIVED, "lien": "https://mairie.example/"}
    queue = {"key": "demande-recue:42", "recipient": FAMILY, "template": "demande_recue"}
    queued_by_second: list[bool] = []

    def second() -> None:
        with sessions() as session:
            queued_by_second.append(enqueue(session, clock, context=context, **queue))
            session.commit()

    with sessions() as first:
        assert enqueue(first, clock, context=context, **queue)
        other = threading.Thread(target=second)
        other.start()
        other.join(timeout=0.5)  # it cannot finish while the first holds the row
        assert queued_by_second == []
        getattr(first, first_ends)()
    other.join(timeout=30)

    assert queued_by_second == [first_ends == "rollback"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_a_context_must_give_exactly_the_template_fields(
    db_session: Session, clock: FrozenClock
) -> None:
    extra = {**RECEIVED, "lien": "https://mairie.example/", "revenus": "1 234 €"}

    with pytest.raises(InvalidNotification, match="revenus"):
        enqueue(
            db_session, clock, key="k", recipient=FAMILY, template="demande_recue", context=extra
        )
    with pytest.raises(InvalidNotification, match="inconnu"):
        enqueue(db_session, clock, key="k", recipient=FAMILY, template="inconnu", context={})


def test_an_unreachable_server_leaves_the_message_queued_until_it_answers(
    db_session: Session, clock: FrozenClock, mail: MailSettings, mailbox: Mailbox
) -> None:
    message = _queue_receipt(db_session, clock)

    assert send_due(db_session, clock, _unreachable(mail)) == 0

    assert (message.attempts, message.sent_at) == (1, None)
    assert message.last_error == "ConnectionRefusedError"
    assert message.send_after == clock.now() + timedelta(minutes=1)
    assert send_due(db_session, clock, mail) == 0  # up again, but the retry is not due yet
    clock.advance(timedelta(minutes=1))
    assert send_due(db_session, clock, mail) == 1
    assert len(mailbox.to(FAMILY)) == 1


def test_a_message_is_given_up_after_the_last_attempt(
    db_session: Session, clock: FrozenClock, mail: MailSettings, mailbox: Mailbox
) -> None:
    message = _queue_receipt(db_session, clock)
    down = _unreachable(mail)
    delays = []

    for _ in range(8):
        send_due(db_session, clock, down)
        delays.append(message.send_after - clock.now())
        clock.advance(timedelta(hours=6))

    # Retried after 1 min, 5 min, 30 min, 2 h, then every 6 h; given up at the 8th failure.
    minutes = [1, 5, 30, 120, 360, 360, 360]
    assert delays[:-1] == [timedelta(minutes=m) for m in minutes]
    assert message.attempts == 8
    assert message.failed_at is not None
    assert send_due(db_session, clock, mail) == 0
    assert mailbox.messages == []


def test_a_refused_recipient_does_not_hold_back_the_others(
    db_session: Session, clock: FrozenClock, mail: MailSettings, mailbox: Mailbox
) -> None:
    refused = _queue_receipt(db_session, clock, REFUSED_RECIPIENT)
    _queue_receipt(db_session, clock, FAMILY)

    assert send_due(db_session, clock, mail) == 1

    assert len(mailbox.to(FAMILY)) == 1
    assert refused.attempts == 1
    assert refused.last_error == "SMTPRecipientsRefused 550"  # no address kept


def test_expiry_reminder_reaches_the_family_once(
    db_session: Session,
    clock: FrozenClock,
    vault: Vault,
    foyer: Foyer,
    mail: MailSettings,
    mailbox: Mailbox,
) -> None:
    deposit(vault, db_session, foyer, issued_on=date(2026, 6, 15))  # valid until 15 September
    family = make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id, email=FAMILY)
    gone = make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id)
    gone.is_active = False
    db_session.commit()

    first = expiry_reminders(db_session, clock, "https://mairie.example/")
    again = expiry_reminders(db_session, clock, "https://mairie.example/")
    send_due(db_session, clock, mail)

    assert (first, again) == ((0, 1), (0, 0))
    [received] = mailbox.messages
    assert received["To"] == family.email
    assert received["Subject"] == (
        "Votre justificatif « Justificatif de domicile » expire le 15 septembre 2026"
    )
    body = received.get_content()
    assert "https://mairie.example/famille/coffre" in body
    assert "facture.pdf" not in body
