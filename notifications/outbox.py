"""E-mail notices through an outbox: written with the event, delivered later by the worker.

A service function calls `enqueue` inside its own transaction, so a notice exists if and
only if its event was committed. The worker's `send_due` delivers the notices over SMTP,
one commit per message, and retries a failed one later and later until it gives up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from coffre.clock import Clock
from notifications.models import OutboxMessage
from notifications.templates import InvalidNotification, render

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 10
# Wait before the 1st, 2nd... retry; the last delay repeats until MAX_ATTEMPTS.
BACKOFF = tuple(timedelta(minutes=minutes) for minutes in (1, 5, 30, 120, 360))
MAX_ATTEMPTS = 8


@dataclass(frozen=True, kw_only=True)
class MailSettings:
    """The SMTP server to send through and the sender's address."""

    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    sender: str


class MailNotConfigured(Exception):
    """No SMTP host is set: messages stay queued until one is."""


def enqueue(
    session: Session,
    clock: Clock,
    *,
    key: str,
    recipient: str,
    template: str,
    context: Mapping[str, str],
) -> bool:
    """Add a message to the caller's transaction; False when this key was already queued.

    The context must give exactly the template's fields (InvalidNotification otherwise).
    """
    render(template, context)
    now = clock.now()
    row = {
        "idempotency_key": key,
        "recipient": recipient,
        "template": template,
        "context": json.dumps(dict(context), ensure_ascii=False, sort_keys=True),
        "created_at": now,
        "send_after": now,
        "attempts": 0,
    }
    # One statement: a key queued before, or by a transaction committing meanwhile (which
    # PostgreSQL waits for), inserts nothing; no savepoint, no look-up first.
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    added = session.execute(
        insert(OutboxMessage)
        .values(row)
        .on_conflict_do_nothing(index_elements=[OutboxMessage.idempotency_key])
        .returning(OutboxMessage.id)
    ).first()
    return added is not None


def send_due(session: Session, clock: Clock, mail: MailSettings, batch: int = 50) -> int:
    """Send up to `batch` due messages over one SMTP connection; returns how many were sent.

    Each message is locked, sent and committed on its own, so a crash resends at most the
    one in flight. A message that fails is retried after BACKOFF and given up after
    MAX_ATTEMPTS; an unreachable server leaves every message queued. Commits.
    """
    if not mail.host:
        raise MailNotConfigured("no SMTP host is configured")
    if session.scalar(select(OutboxMessage.id).where(_due(clock)).limit(1)) is None:
        return 0
    try:
        connection = _connect(mail)
    except OSError as exc:  # smtplib's errors are OSErrors too
        _postpone(session, clock, exc, batch)
        return 0
    try:
        return _send_batch(session, clock, mail, connection, batch)
    finally:
        _disconnect(connection)


def _due(clock: Clock) -> ColumnElement[bool]:
    return and_(
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.failed_at.is_(None),
        OutboxMessage.send_after <= clock.now(),
    )


def _oldest_due(clock: Clock, limit: int) -> Select[Any]:
    """Due messages, oldest first, skipping those another worker holds (PostgreSQL)."""
    return (
        select(OutboxMessage)
        .where(_due(clock))
        .order_by(OutboxMessage.send_after, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def _connect(mail: MailSettings) -> smtplib.SMTP:
    connection = smtplib.SMTP(mail.host, mail.port, timeout=SMTP_TIMEOUT_SECONDS)
    try:
        if mail.starttls:
            connection.starttls(context=ssl.create_default_context())
        if mail.username:
            connection.login(mail.username, mail.password)
    except OSError:
        connection.close()
        raise
    return connection


def _disconnect(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except OSError:  # already gone: nobody to say goodbye to
        connection.close()


def _postpone(session: Session, clock: Clock, exc: Exception, batch: int) -> None:
    """Count a failed attempt on every due message of the batch: the server is away."""
    log.warning("outbox: SMTP server unreachable (%s)", _describe(exc))
    for message in session.scalars(_oldest_due(clock, batch)):
        _record_failure(message, clock, exc)
    session.commit()


# This message's own fault: note it and go on with the next one.
_MESSAGE_ERRORS = (
    smtplib.SMTPResponseException,
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPNotSupportedError,
    InvalidNotification,
    ValueError,
)


def _send_batch(
    session: Session, clock: Clock, mail: MailSettings, connection: smtplib.SMTP, batch: int
) -> int:
    sent = 0
    for _ in range(batch):
        # Locked until its commit: another worker skips it meanwhile.
        message = session.scalar(_oldest_due(clock, 1))
        if message is None:
            break
        try:
            connection.send_message(_email(message, mail, clock))
        except _MESSAGE_ERRORS as exc:
            _record_failure(message, clock, exc)
            session.commit()
            continue
        except OSError as exc:
            # The connection is lost: the others wait for the next turn, untouched.
            _record_failure(message, clock, exc)
            session.commit()
            break
        message.sent_at = clock.now()
        session.commit()
        sent += 1
    return sent


def _email(message: OutboxMessage, mail: MailSettings, clock: Clock) -> EmailMessage:
    subject, body = render(message.template, json.loads(message.context))
    email = EmailMessage()
    email["From"] = mail.sender
    email["To"] = message.recipient
    email["Subject"] = " ".join(subject.split())  # a line break in a field would be refused
    email["Date"] = format_datetime(clock.now())
    email["Message-ID"] = message_id(message.idempotency_key, mail.sender)
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    email.set_content(body)
    return email


def message_id(key: str, sender: str) -> str:
    """The same Message-ID for every attempt at one event, so a receiver can drop a resend."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}.outbox@{domain}>"


def _record_failure(message: OutboxMessage, clock: Clock, exc: Exception) -> None:
    message.attempts += 1
    message.last_error = _describe(exc)[:300]
    if message.attempts >= MAX_ATTEMPTS:
        message.failed_at = clock.now()
        log.error("outbox: message %s given up: %s", message.id, message.last_error)
        return
    message.send_after = clock.now() + BACKOFF[min(message.attempts, len(BACKOFF)) - 1]
    log.warning("outbox: message %s will be retried: %s", message.id, message.last_error)


def _describe(exc: Exception) -> str:
    """The exception's class and SMTP codes: servers echo addresses in their replies."""
    name = type(exc).__name__
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{name} {exc.smtp_code}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _reply in exc.recipients.values()})
        return " ".join([name, *map(str, codes)])
    return name


# A link in a message's text: up to a space, or a closing quote or bracket.
_LINK = re.compile(r"https?://[^\s<>\"'«»()]+")


@dataclass(frozen=True)
class WrittenMessage:
    """A message of the outbox as written, for the demo's page that stands for a mailbox."""

    id: int
    recipient: str
    subject: str
    body: str = field(repr=False)
    links: tuple[str, ...]
    created_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None


def latest_messages(session: Session, limit: int = 50) -> list[WrittenMessage]:
    """The newest messages, sent or not, with their text and links (sign-up, reset...).

    For a demo or a developer's machine only: the texts carry every link's token.
    """
    rows = session.scalars(
        select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    ).all()
    return [_written(row) for row in rows]


def _written(row: OutboxMessage) -> WrittenMessage:
    try:
        subject, body = render(row.template, json.loads(row.context))
    except (InvalidNotification, ValueError):  # a template since renamed, a broken context
        subject, body = row.template, ""
    links = tuple(dict.fromkeys(link.rstrip(".,;:!?") for link in _LINK.findall(body)))
    return WrittenMessage(
        id=row.id,
        recipient=row.recipient,
        subject=" ".join(subject.split()),
        body=body,
        links=links,
        created_at=row.created_at,
        sent_at=row.sent_at,
        failed_at=row.failed_at,
    )
