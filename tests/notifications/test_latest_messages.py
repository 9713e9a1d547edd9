"""The outbox as the demo's mailbox page reads it: newest first, with each message's links."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from coffre.clock import FrozenClock
from notifications.models import OutboxMessage
from notifications.outbox import enqueue, latest_messages

LINK = "http://127.0.0.1:5091/activation/abc-123_XYZ"


def test_newest_first_with_the_links_of_each_text(db_session: Session, clock: FrozenClock) -> None:
    enqueue(db_session, clock, key="activation:1", recipient="jeanne@example.org",
            template="activation_compte", context={"lien": LINK})  # fmt: skip
    enqueue(db_session, clock, key="recu:1", recipient="paul@example.org",
            template="demande_recue",
            context={"demarche": "Cantine", "reference": "DEM-1",
                     "lien": "https://mairie.example/famille/demandes/7."})  # fmt: skip
    db_session.commit()

    newest, oldest = latest_messages(db_session)

    assert newest.recipient == "paul@example.org"
    assert newest.subject == "Demande DEM-1 : nous avons bien reçu votre demande"
    assert newest.links == ("https://mairie.example/famille/demandes/7",)  # no final stop
    assert oldest.links == (LINK,)
    assert LINK in oldest.body and oldest.sent_at is None
    assert latest_messages(db_session, limit=1) == [newest]


def test_a_message_whose_template_is_gone_is_still_listed(
    db_session: Session, clock: FrozenClock
) -> None:
    old = OutboxMessage(
        idempotency_key="old:1",
        recipient="a@example.org",
        template="ancien",
        context=json.dumps({"lien": LINK}),
        created_at=clock.now(),
        send_after=clock.now(),
    )
    db_session.add(old)
    db_session.commit()

    (message,) = latest_messages(db_session)

    assert (message.subject, message.body, message.links) == ("ancien", "", ())
