"""The worker's periodic jobs: outbox, timers, place offers, registrations and absences taken
into bookings, the monthly invoices, vault upkeep, journal checkpoints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from accounts import family, inactivity
from coffre.antivirus import Scanner
from coffre.clock import Clock
from coffre.inspection.two_d_doc import TrustList
from coffre.journal.anchoring import Anchoring, write_checkpoint
from coffre.models import Document, VaultExport
from coffre.portability import prepared
from coffre.upkeep import authenticity, maintenance, scanning
from coffre.vault import Vault
from facturation import documents as invoice_documents
from facturation import run as billing
from interop import handover, portability, webhooks
from messagerie import news, threads
from notifications import outbox
from notifications.outbox import MailSettings
from procedures import tasks
from procedures.deadlines import drafts, escalation, retention
from procedures.history import EngineContext
from reservations import bookings, registrations
from worker.loop import Worker


def register_standard_jobs(
    worker: Worker,
    vault: Vault,
    mail: MailSettings | None,
    base_url: str,
    anchoring: Anchoring | None = None,
    billing_day: int = billing.BILLING_DAY,
    secret_key: str | None = None,
    inactive_account_days: int = inactivity.INACTIVE_DAYS,
    two_d_doc: TrustList | None = None,
) -> None:
    """Send e-mail, fire task time limits, pass lapsed place offers on, expire documents and
    drafts and remind, sweep blobs, prepare the large vaults' exports, and (given the journal
    key) checkpoint the journal's chains every hour they moved; given a 2D-Doc trust list,
    read the new documents' 2D-Doc."""
    if mail is not None:
        worker.register("outbox", timedelta(seconds=15), lambda s, c: outbox.send_due(s, c, mail))
    if vault.scanner is not None:
        register_antivirus(worker, vault, vault.scanner, base_url)
    if two_d_doc is not None:
        trust = two_d_doc
        worker.register(
            "two-d-doc",
            timedelta(seconds=10),
            lambda s, c: authenticity.read_pending(s, vault, trust),
        )

    def context(clock: Clock) -> EngineContext:
        return EngineContext(clock=clock, base_url=base_url, vault=vault)

    worker.register(
        "timeouts", timedelta(minutes=1), lambda s, c: tasks.fire_timeouts(s, context(c))
    )
    worker.register("timers", timedelta(minutes=1), lambda s, c: tasks.fire_timers(s, context(c)))
    worker.register(
        "escalations",
        timedelta(minutes=1),
        lambda s, c: escalation.fire_escalations(s, context(c)),
    )
    worker.register(
        "expiry", timedelta(hours=24), lambda s, c: family.expiry_reminders(s, c, base_url)
    )
    worker.register(
        "place-offers",
        timedelta(minutes=1),
        lambda s, c: bookings.expire_offers(
            s, bookings.Context(clock=c, calendar=context(c).calendar, base_url=base_url)
        ),
    )
    worker.register(
        "registrations",
        timedelta(minutes=1),
        lambda s, c: registrations.apply_closed(s, c),
    )
    worker.register("billing", timedelta(hours=6), lambda s, c: billing.monthly(s, c, billing_day))
    invoices = invoice_documents.Settings(vault=vault, base_url=base_url)
    worker.register(
        "invoice-documents",
        timedelta(minutes=1),
        lambda s, c: invoice_documents.issue_documents(s, c, invoices),
    )
    worker.register(
        "handover", timedelta(minutes=1), lambda s, c: handover.export_accepted(s, c, vault.store)
    )
    if secret_key is not None:  # it signs the webhooks' deliveries
        worker.register("webhook-events", timedelta(seconds=15), webhooks.collect)
        worker.register(
            "webhooks", timedelta(seconds=15), lambda s, c: webhooks.send_due(s, c, secret_key)
        )
    if secret_key is not None:  # it signs the unsubscribe links of the news' e-mails
        links = news.Links(base_url=base_url, secret_key=secret_key)
        worker.register("news", timedelta(seconds=30), lambda s, c: news.mail_pending(s, c, links))
    worker.register("drafts", timedelta(hours=1), lambda s, c: drafts.expire_drafts(s, context(c)))
    worker.register("retention", timedelta(hours=24), retention.apply)
    worker.register(
        "inactivity",
        timedelta(hours=24),
        lambda s, c: inactivity.apply(s, c, vault, base_url, inactive_account_days),
    )
    # The messages of a foyer whose vault was deleted (the family, or its inactivity: above).
    worker.register(
        "deleted-threads", timedelta(hours=1), lambda s, c: threads.erase_deleted_foyers(s)
    )
    worker.register("sweep", timedelta(hours=1), lambda s, c: maintenance.sweep_orphans(s, vault))
    register_exports(worker, vault, base_url)
    if anchoring is not None:
        worker.register(
            "journal-checkpoint",
            timedelta(hours=1),
            lambda s, c: write_checkpoint(s, c, anchoring, skip_unchanged=True),
        )


def register_antivirus(worker: Worker, vault: Vault, scanner: Scanner, base_url: str) -> None:
    """Scan the pending deposits every few seconds, then a batch of those deposited while no
    scanner was configured; the family is e-mailed of a quarantine."""
    backlog = Backlog()

    def scan(session: Session, clock: Clock) -> int:
        def notify(s: Session, document: Document) -> int:
            return family.quarantine_notices(s, clock, document, base_url)

        judged = scanning.scan_pending(session, vault, scanner, notify)
        if backlog.due(clock.now()):
            turn = scanning.rescan_not_scanned(session, vault, scanner, notify)
            backlog.emptied_at = clock.now() if turn.emptied else None
            judged += turn.judged
        return judged

    worker.register("antivirus", timedelta(seconds=5), scan)


@dataclass
class Backlog:
    """When the worker last found no `not_scanned` document: with a scanner configured none
    should appear, so it looks again only every hour rather than querying every turn."""

    emptied_at: datetime | None = None
    every: timedelta = timedelta(hours=1)

    def due(self, now: datetime) -> bool:
        return self.emptied_at is None or now - self.emptied_at >= self.every


def register_exports(worker: Worker, vault: Vault, base_url: str) -> None:
    """Build the large vaults' exports asked for (with the portal's data on the foyer, from
    `interop`), tell the adults, and delete them once their days are over."""

    def build(session: Session, clock: Clock) -> int:
        def notify(s: Session, export: VaultExport) -> int:
            return family.export_ready_notices(s, clock, export, base_url)

        return prepared.build_pending(session, vault, portability.data_files, notify)

    worker.register("exports", timedelta(seconds=30), build)
    worker.register(
        "exports-expiry", timedelta(hours=1), lambda s, c: prepared.expire_exports(s, vault)
    )
