"""E-mail notices through an outbox: written with the event, delivered later by the worker.

A service function calls `enqueue` inside its own transaction, so a notice exists if and
only if its event was committed. The worker's `send_due` delivers the notices over SMTP,
one commit per message, and retries a failed one later and later until it gives up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from string import Template
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from coffre.catalogue import DOCUMENT_TYPES
from coffre.clock import Clock
from coffre.maintenance import expire_documents
from coffre.models import Document
from procedures.models import Account, OutboxMessage, Role

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 10
# Wait before the 1st, 2nd... retry; the last delay repeats until MAX_ATTEMPTS.
BACKOFF = tuple(timedelta(minutes=minutes) for minutes in (1, 5, 30, 120, 360))
MAX_ATTEMPTS = 8
EXPIRY_TEMPLATE = "document_bientot_expire"
DRAFT_REMINDER_TEMPLATE = "brouillon_rappel"
GUICHET_TEMPLATE = "guichet_acte"
VAULT_PATH = "/famille/coffre"


@dataclass(frozen=True, kw_only=True)
class MailSettings:
    """The SMTP server to send through and the sender's address."""

    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    sender: str


@dataclass(frozen=True)
class MessageTemplate:
    subject: str
    body: str


class InvalidNotification(Exception):
    """No such template, or a context that does not give exactly the template's fields."""


class MailNotConfigured(Exception):
    """No SMTP host is set: messages stay queued until one is."""


_SIGNATURE = """

Cordialement,
Le portail famille de votre commune

Ce message est envoyé automatiquement, merci de ne pas y répondre.
"""

TEMPLATES: dict[str, MessageTemplate] = {
    "demande_recue": MessageTemplate(
        subject="Demande $reference : nous avons bien reçu votre demande",
        body="""Bonjour,

Nous avons bien reçu votre demande « $demarche » (référence $reference).
Le service concerné va l'étudier ; vous recevrez un courriel à chaque étape.

Vous pouvez suivre son avancement dans votre espace famille :
$lien"""
        + _SIGNATURE,
    ),
    "document_demande": MessageTemplate(
        subject="Demande $reference : un justificatif vous est demandé",
        body="""Bonjour,

Pour instruire votre demande « $demarche » (référence $reference), le service a besoin
du justificatif suivant : $type_document.

Vous pouvez le déposer, ou choisir un document déjà présent dans votre coffre-fort,
depuis votre espace famille :
$lien"""
        + _SIGNATURE,
    ),
    "decision": MessageTemplate(
        subject="Demande $reference : une décision a été prise",
        body="""Bonjour,

Une décision a été prise sur votre demande « $demarche » (référence $reference).

Vous pouvez en prendre connaissance dans votre espace famille :
$lien"""
        + _SIGNATURE,
    ),
    "escalade": MessageTemplate(
        subject="Demande $reference : échéance dépassée",
        body="""Bonjour,

La demande « $demarche » (référence $reference), confiée au service $service, devait être
traitée au plus tard le $echeance. Ce délai est dépassé.

Merci de la prendre en charge ou de la réaffecter dès que possible :
$lien"""
        + _SIGNATURE,
    ),
    EXPIRY_TEMPLATE: MessageTemplate(
        subject="Votre justificatif « $type_document » expire le $date_expiration",
        body="""Bonjour,

Votre justificatif « $type_document », conservé dans votre coffre-fort numérique,
ne sera plus valable après le $date_expiration.

Pensez à déposer un document à jour pour vos prochaines demandes :
$lien"""
        + _SIGNATURE,
    ),
    DRAFT_REMINDER_TEMPLATE: MessageTemplate(
        subject="Votre demande « $demarche » en brouillon sera supprimée le $date_suppression",
        body="""Bonjour,

Vous avez commencé une demande « $demarche » sans l'envoyer. Ce brouillon n'a pas été
modifié depuis plus de trois semaines : il sera supprimé le $date_suppression.

Pour la terminer et l'envoyer, ou simplement la conserver, ouvrez-la depuis votre
espace famille avant cette date :
$lien

Les justificatifs de votre coffre-fort ne sont pas concernés : seul le brouillon sera
supprimé."""
        + _SIGNATURE,
    ),
    "activation_compte": MessageTemplate(
        subject="Activez votre compte sur le portail famille",
        body="""Bonjour,

Vous venez de créer un compte sur le portail famille. Pour l'activer, ouvrez ce lien
dans les 48 heures :
$lien

Si vous n'êtes pas à l'origine de cette demande, ignorez ce message."""
        + _SIGNATURE,
    ),
    "reinitialisation_mot_de_passe": MessageTemplate(
        subject="Réinitialisation de votre mot de passe",
        body="""Bonjour,

Une réinitialisation du mot de passe de votre compte a été demandée. Pour choisir un
nouveau mot de passe, ouvrez ce lien dans les 2 heures :
$lien

Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre mot de passe
reste inchangé."""
        + _SIGNATURE,
    ),
    GUICHET_TEMPLATE: MessageTemplate(
        subject="Une démarche a été faite pour vous au guichet",
        body="""Bonjour,

Au guichet de votre commune, $agent a fait pour votre foyer :
$operations

Vous pouvez le retrouver dans votre espace famille :
$lien

Si vous n'êtes pas venu au guichet ou n'avez pas demandé cette démarche, contactez
votre mairie."""
        + _SIGNATURE,
    ),
    "invitation_foyer": MessageTemplate(
        subject="Invitation à rejoindre un foyer sur le portail famille",
        body="""Bonjour,

$invitant vous invite à rejoindre son foyer sur le portail famille, pour suivre ensemble
les démarches de vos enfants. Pour créer votre compte, ouvrez ce lien dans les 7 jours :
$lien"""
        + _SIGNATURE,
    ),
    "invitation_agent": MessageTemplate(
        subject="Votre compte d'agent sur le portail famille",
        body="""Bonjour,

Un compte d'agent a été créé pour vous sur le portail famille ($entite).
Pour choisir votre mot de passe, ouvrez ce lien dans les 7 jours :
$lien

À votre première connexion, le portail vous demandera d'ajouter votre compte à une
application d'authentification (FreeOTP, Google Authenticator…) sur votre téléphone."""
        + _SIGNATURE,
    ),
}

_MONTHS = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"


def date_fr(day: date) -> str:
    """A date as written in a French letter: « 1er septembre 2026 », « 15 septembre 2026 »."""
    number = "1er" if day.day == 1 else str(day.day)
    return f"{number} {_MONTHS.split()[day.month - 1]} {day.year}"


def render(template: str, context: Mapping[str, str]) -> tuple[str, str]:
    """The subject and plain-text body of a template filled with its context."""
    chosen = TEMPLATES.get(template)
    if chosen is None:
        raise InvalidNotification(f"unknown template {template!r}")
    needed = set(Template(chosen.subject).get_identifiers())
    needed |= set(Template(chosen.body).get_identifiers())
    if set(context) != needed:
        # Field names only: the values may be personal data.
        raise InvalidNotification(
            f"template {template!r} needs {sorted(needed)}, got {sorted(context)}"
        )
    return Template(chosen.subject).substitute(context), Template(chosen.body).substitute(context)


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


def expiry_reminders(session: Session, clock: Clock, base_url: str) -> tuple[int, int]:
    """Expire documents past their date and queue reminders of those expiring soon; commits.

    Every active family account of the foyer gets one message per document; returns how
    many documents expired and how many messages were queued, in one transaction.
    """
    report = expire_documents(session, clock)
    queued = 0
    for foyer_id, document_id in report.to_remind:
        context = _expiry_context(session.get_one(Document, document_id), base_url)
        for account in family_accounts(session, foyer_id):
            queued += enqueue(
                session,
                clock,
                key=f"expiry:{document_id}:{account.id}",
                recipient=account.email,
                template=EXPIRY_TEMPLATE,
                context=context,
            )
    session.commit()
    return len(report.expired), queued


def _expiry_context(document: Document, base_url: str) -> dict[str, str]:
    kind = DOCUMENT_TYPES.get(document.type_code)
    assert document.valid_until is not None  # only documents with a date are reminded of
    return {
        "type_document": kind.label if kind else document.type_code,
        "date_expiration": date_fr(document.valid_until),
        "lien": base_url.rstrip("/") + VAULT_PATH,
    }


def family_accounts(session: Session, foyer_id: int) -> Sequence[Account]:
    """The foyer's active family accounts, the recipients of its notices."""
    query = select(Account).where(
        Account.foyer_id == foyer_id,
        Account.role == Role.FAMILLE,
        Account.is_active.is_(True),
    )
    return session.scalars(query.order_by(Account.id)).all()


# An agent wrote to the family from the review page. The message itself stays on the portal:
# an e-mail is neither private nor proof of who sent it.
AGENT_MESSAGE_TEMPLATE = "message_service"
TEMPLATES[AGENT_MESSAGE_TEMPLATE] = MessageTemplate(
    subject="Demande $reference : le service vous a écrit",
    body="""Bonjour,

Le service qui traite votre demande « $demarche » (référence $reference) vous a adressé
un message.

Vous pouvez le lire dans votre espace famille :
$lien"""
    + _SIGNATURE,
)

# Who came into a foyer: its space opened at the counter, a family code issued for it, an
# adult asking to join it (procedures.guichet, procedures.join_requests). Every adult of
# the foyer is told, so that nobody gets in unseen.
COUNTER_OPENED_TEMPLATE = "guichet_ouverture"
FAMILY_CODE_TEMPLATE = "guichet_code_famille"
JOIN_REQUEST_TEMPLATE = "foyer_demande_rejoindre"
JOIN_ACCEPTED_TEMPLATE = "foyer_rejoint"
JOIN_REFUSED_TEMPLATE = "foyer_rejoindre_refuse"
TEMPLATES[COUNTER_OPENED_TEMPLATE] = MessageTemplate(
    subject="L'espace de votre foyer a été ouvert au guichet",
    body="""Bonjour,

Au guichet, $agent ($entite) a ouvert l'espace de votre foyer sur le portail famille
pour faire des démarches avec vous. Chaque démarche faite pour vous au guichet vous sera
signalée par courriel.

Votre espace famille :
$lien

Si personne de votre foyer n'est venu au guichet, contactez votre mairie."""
    + _SIGNATURE,
)
TEMPLATES[FAMILY_CODE_TEMPLATE] = MessageTemplate(
    subject="Un code famille a été remis pour votre foyer",
    body="""Bonjour,

Au guichet, $agent ($entite) a remis un nouveau code famille pour votre foyer. Ce code
permet à un adulte de créer son compte sur le portail famille et de demander à rejoindre
votre foyer : il ne verra rien de votre foyer tant qu'un adulte du foyer n'aura pas
accepté sa demande depuis l'espace famille :
$lien

Si personne de votre foyer n'a demandé ce code, contactez votre mairie."""
    + _SIGNATURE,
)
TEMPLATES[JOIN_REQUEST_TEMPLATE] = MessageTemplate(
    subject="Une personne demande à rejoindre votre foyer",
    body="""Bonjour,

La personne qui utilise l'adresse $personne a créé un compte sur le portail famille
avec un code famille de votre foyer et demande à le rejoindre. Elle ne voit rien de
votre foyer (justificatifs, demandes) tant qu'un adulte du foyer n'a pas accepté.

Pour accepter ou refuser, ouvrez votre espace famille :
$lien

Si vous ne connaissez pas cette personne, refusez et contactez votre mairie."""
    + _SIGNATURE,
)
TEMPLATES[JOIN_ACCEPTED_TEMPLATE] = MessageTemplate(
    subject="Vous avez rejoint votre foyer sur le portail famille",
    body="""Bonjour,

Un adulte de votre foyer a accepté votre demande : votre compte a maintenant accès à
l'espace de votre foyer.

Votre espace famille :
$lien"""
    + _SIGNATURE,
)
TEMPLATES[JOIN_REFUSED_TEMPLATE] = MessageTemplate(
    subject="Votre demande pour rejoindre un foyer n'a pas été acceptée",
    body="""Bonjour,

Un adulte du foyer que vous avez demandé à rejoindre a refusé votre demande. Le compte
créé avec le code famille a été fermé.

S'il s'agit d'une erreur, adressez-vous au guichet de votre mairie."""
    + _SIGNATURE,
)
