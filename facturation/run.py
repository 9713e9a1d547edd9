"""The monthly run: a month's bookings, attendance and flat fees become one invoice per foyer
and invoicing entity, numbered without gaps per entity and year.

Run twice for a month, it creates nothing the second time and says so. It goes by batches
of foyers (memory stays bounded whatever the town's size), each batch committed with its
invoices, their ledger entries and the entity's numbering: interrupted, it resumes where it
stopped (a foyer already invoiced for the month is skipped). An activity with bookings but
no tariff stops the run before anything is written, naming it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from accounts.models import Entity, Service
from coffre.clock import Clock, local_today
from coffre.models import Foyer, FoyerMember
from facturation.errors import BillingRefused
from facturation.models import (
    BANDS,
    BillingRun,
    EntryKind,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceSequence,
    LedgerEntry,
    Unit,
)
from facturation.money import prorated
from facturation.tariffs import Band, Grids, band_of
from reservations.attendance import billable
from reservations.models import (
    Activity,
    ActivitySession,
    AttendanceMark,
    Booking,
    BookingState,
    Enrolment,
)
from reservations.registrations import justified_days

log = logging.getLogger(__name__)

BATCH = 500
DUE_DAYS = 15  # an invoice is due 15 days after it is issued
MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
    "octobre", "novembre", "décembre",
)  # fmt: skip


@dataclass
class RunResult:
    entity: str
    month: date
    created: bool  # False: the month was invoiced already, nothing was created
    invoices: int = 0
    total_cents: int = 0


BILLING_DAY = 1  # the worker invoices the month before from this day of the month on


def monthly(session: Session, clock: Clock, billing_day: int = BILLING_DAY) -> int:
    """The worker's job: invoice last month once this month's billing day has come (a month
    invoiced already creates nothing). An entity whose tariffs are missing is logged and
    retried at the next run; the others are invoiced. How many invoices were made."""
    today = local_today(clock)
    if today.day < billing_day:
        return 0
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    made = 0
    for entity_id in _billing_entities(session):
        entity = session.get(Entity, entity_id)
        assert entity is not None
        try:
            result = emit_entity(session, clock, entity, last_month)
            made += result.invoices if result.created else 0
        except BillingRefused as refused:
            session.rollback()
            log.warning("billing of entity %s refused: %s", entity.slug, refused.message)
    return made


def month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def emit(session: Session, clock: Clock, month: date) -> list[RunResult]:
    """Invoice the month for every entity that runs activities (see `emit_entity`)."""
    entities = [session.get(Entity, entity_id) for entity_id in _billing_entities(session)]
    return [emit_entity(session, clock, entity, month) for entity in entities if entity]


def _billing_entities(session: Session) -> list[int]:
    """The entities that run activities."""
    return list(
        session.scalars(
            select(Service.entity_id).join(Activity).distinct().order_by(Service.entity_id)
        )
    )


def emit_entity(session: Session, clock: Clock, entity: Entity, month: date) -> RunResult:
    """Invoice a finished month for one entity (see the module's docstring)."""
    first, last = month_bounds(month)
    if last >= local_today(clock):
        raise BillingRefused(
            f"Le mois de {month_name(first)} n'est pas terminé : il se facture ensuite."
        )
    result = RunResult(entity.name, first, created=True)
    run = session.scalar(
        select(BillingRun).where(BillingRun.entity_id == entity.id, BillingRun.month == first)
    )
    if run is not None and run.invoices >= 0:  # finished (an interrupted run has -1: resumes)
        return RunResult(entity.name, first, False, run.invoices, run.total_cents)
    activities = {
        a.id: a
        for a in session.scalars(
            select(Activity).join(Service).where(Service.entity_id == entity.id)
        )
    }
    grids = Grids(session, activities)
    _check_tariffs(session, activities, grids, first, last)
    if run is None:
        run = BillingRun(
            entity_id=entity.id, month=first, run_at=clock.now(), invoices=-1, total_cents=0
        )
        session.add(run)
        session.commit()  # the month is taken: a second run waits for none, it resumes
    after = 0
    while True:
        foyer_ids = _foyers(session, list(activities), first, last, after)
        if not foyer_ids:
            break
        made = _invoice_batch(session, clock, entity, activities, grids, foyer_ids, first, last)
        result.invoices += len(made)
        result.total_cents += sum(invoice.total_cents for invoice in made)
        after = foyer_ids[-1]
    totals = session.execute(
        select(func.count(Invoice.id), func.coalesce(func.sum(Invoice.total_cents), 0)).where(
            Invoice.entity_id == entity.id,
            Invoice.month == first,
            Invoice.kind == InvoiceKind.FACTURE,
        )
    ).one()
    run.invoices, run.total_cents = totals[0], int(totals[1])
    session.commit()
    return result


def month_name(first: date) -> str:
    return f"{MONTHS[first.month - 1]} {first.year}"


def _check_tariffs(
    session: Session, activities: dict[int, Activity], grids: Grids, first: date, last: date
) -> None:
    used = set(
        session.scalars(
            select(ActivitySession.activity_id)
            .join(Booking, Booking.session_id == ActivitySession.id)
            .where(
                ActivitySession.activity_id.in_(list(activities)),
                ActivitySession.day.between(first, last),
                Booking.state == BookingState.RESERVEE,
            )
            .distinct()
        )
    )
    missing = sorted(
        activities[a].name for a in used if any(grids.price(a, b, first) is None for b in BANDS)
    )
    if missing:
        raise BillingRefused(
            f"Pas de tarif pour chaque tranche au 1er {month_name(first)} : "
            + ", ".join(missing)
            + ". Rien n'a été facturé."
        )


def _foyers(
    session: Session, activity_ids: list[int], first: date, last: date, after: int
) -> list[int]:
    """The next batch of foyers with a child enrolled in the entity's activities during the
    month (a day is booked only under an enrolment), in the order of their ids."""
    return list(
        session.scalars(
            select(Enrolment.foyer_id)
            .where(
                Enrolment.foyer_id > after,
                Enrolment.activity_id.in_(activity_ids),
                Enrolment.starts_on <= last,
                Enrolment.ends_on >= first,
            )
            .group_by(Enrolment.foyer_id)
            .order_by(Enrolment.foyer_id)
            .limit(BATCH)
        )
    )


@dataclass
class _Line:
    unit: Unit
    unit_price: int
    quantity: int = 0


@dataclass
class _Bill:
    lines: dict[tuple[int, int, int], _Line] = field(default_factory=dict)

    def add(self, member: int, activity: int, unit: Unit, price: int, quantity: int) -> None:
        line = self.lines.setdefault((member, activity, price), _Line(unit, price))
        line.quantity += quantity


@dataclass(frozen=True)
class _Batch:
    """What pricing a batch of foyers' month reads."""

    activities: dict[int, Activity]
    grids: Grids
    bands: dict[int, Band]
    foyer_ids: list[int]
    first: date
    last: date


def _invoice_batch(
    session: Session,
    clock: Clock,
    entity: Entity,
    activities: dict[int, Activity],
    grids: Grids,
    foyer_ids: list[int],
    first: date,
    last: date,
) -> list[Invoice]:
    # The numbering's row lock first: a second run of the same month (two workers) waits
    # here, then sees the foyers the first one invoiced and skips them.
    sequence = sequence_for(session, entity.id, local_today(clock).year)
    done = set(
        session.scalars(
            select(Invoice.foyer_id).where(
                Invoice.entity_id == entity.id,
                Invoice.month == first,
                Invoice.kind == InvoiceKind.FACTURE,
                Invoice.foyer_id.in_(foyer_ids),
            )
        )
    )
    todo = [f for f in foyer_ids if f not in done]
    if not todo:
        session.commit()  # lets the numbering go
        return []
    foyers = {f.id: f for f in session.scalars(select(Foyer).where(Foyer.id.in_(todo)))}
    bands = {foyer_id: band_of(foyer, first) for foyer_id, foyer in foyers.items()}
    bills: dict[int, _Bill] = defaultdict(_Bill)
    batch = _Batch(activities, grids, bands, todo, first, last)
    _flat_fees(session, batch, bills)
    _days(session, batch, bills)
    made = []
    names = {
        m.id: m.first_name
        for m in session.scalars(select(FoyerMember).where(FoyerMember.foyer_id.in_(todo)))
    }
    for foyer_id in todo:
        bill = bills.get(foyer_id)
        if bill is None or not bill.lines:
            continue
        sequence.last += 1
        invoice = _invoice(clock, entity, foyer_id, bands[foyer_id], sequence, first)
        for (member, activity_id, _price), line in sorted(bill.lines.items()):
            amount = (
                prorated(line.quantity, line.unit_price)
                if line.unit is Unit.HEURE
                else line.quantity * line.unit_price
            )
            invoice.lines.append(
                InvoiceLine(
                    member_id=member, activity_id=activity_id,
                    label=f"{activities[activity_id].name} — {names.get(member, '')}",
                    unit=line.unit, quantity=line.quantity,
                    unit_price_cents=line.unit_price, amount_cents=amount,
                )
            )  # fmt: skip
        invoice.total_cents = sum(line.amount_cents for line in invoice.lines)
        made.append(invoice)
    # One flush for the batch: its invoices and their lines go in a few multi-row INSERTs.
    session.add_all(made)
    session.flush()
    session.add_all(
        LedgerEntry(
            foyer_id=invoice.foyer_id, entity_id=entity.id, kind=EntryKind.FACTURE,
            amount_cents=invoice.total_cents, invoice_id=invoice.id, at=invoice.issued_at,
        )
        for invoice in made
    )  # fmt: skip
    session.commit()
    return made


def sequence_for(session: Session, entity_id: int, year: int) -> InvoiceSequence:
    """The entity's numbering for the year, locked until the batch commits."""
    sequence = session.scalar(
        select(InvoiceSequence)
        .where(InvoiceSequence.entity_id == entity_id, InvoiceSequence.year == year)
        .with_for_update()
    )
    if sequence is None:
        sequence = InvoiceSequence(entity_id=entity_id, year=year, last=0)
        session.add(sequence)
        session.flush()
    return sequence


def _invoice(
    clock: Clock, entity: Entity, foyer_id: int, band: Band, sequence: InvoiceSequence, first: date
) -> Invoice:
    issued = clock.now()
    return Invoice(
        entity_id=entity.id, foyer_id=foyer_id, kind=InvoiceKind.FACTURE, year=sequence.year,
        sequence=sequence.last, number=f"{entity.slug.upper()}-{sequence.year}-{sequence.last:06d}",
        month=first, band=band.code, band_assumed=band.assumed, total_cents=0,
        issued_at=issued, due_on=local_today(clock) + timedelta(days=DUE_DAYS),
    )  # fmt: skip


def _flat_fees(session: Session, batch: _Batch, bills: dict[int, _Bill]) -> None:
    """A flat monthly fee per child enrolled during the month, at the month's first price."""
    enrolments = session.execute(
        select(Enrolment.foyer_id, Enrolment.member_id, Enrolment.activity_id)
        .where(
            Enrolment.foyer_id.in_(batch.foyer_ids),
            Enrolment.activity_id.in_(list(batch.activities)),
            Enrolment.starts_on <= batch.last,
            Enrolment.ends_on >= batch.first,
        )
        .distinct()
    )
    for foyer_id, member_id, activity_id in enrolments:
        price = batch.grids.price(activity_id, batch.bands[foyer_id].code, batch.first)
        if price is not None and price.unit is Unit.FORFAIT_MENSUEL:
            bills[foyer_id].add(member_id, activity_id, price.unit, price.cents, 1)


def _days(session: Session, batch: _Batch, bills: dict[int, _Bill]) -> None:
    """Each booked day billed by the activity's rule (attended, absent unjustified...)."""
    rows = session.execute(
        select(
            Booking.foyer_id,
            Booking.member_id,
            ActivitySession.activity_id,
            ActivitySession.day,
            ActivitySession.starts_at,
            ActivitySession.ends_at,
            AttendanceMark.present,
        )
        .join(ActivitySession, ActivitySession.id == Booking.session_id)
        .outerjoin(
            AttendanceMark,
            and_(
                AttendanceMark.session_id == Booking.session_id,
                AttendanceMark.member_id == Booking.member_id,
            ),
        )
        .where(
            Booking.foyer_id.in_(batch.foyer_ids),
            Booking.state == BookingState.RESERVEE,
            ActivitySession.activity_id.in_(list(batch.activities)),
            ActivitySession.day.between(batch.first, batch.last),
            or_(ActivitySession.closed_reason.is_(None), AttendanceMark.present.is_(True)),
        )
    ).all()
    excused = justified_days(session, sorted({row[1] for row in rows}), batch.first, batch.last)
    for foyer_id, member_id, activity_id, day, starts, ends, present in rows:
        activity = batch.activities[activity_id]
        if not billable(present, (member_id, day) in excused, activity):
            continue
        price = batch.grids.price(activity_id, batch.bands[foyer_id].code, day)
        if price is None or price.unit is Unit.FORFAIT_MENSUEL:
            continue  # no price yet that day, or covered by the flat fee
        if price.unit is Unit.HEURE:
            minutes = (ends.hour * 60 + ends.minute) - (starts.hour * 60 + starts.minute)
            bills[foyer_id].add(member_id, activity_id, price.unit, price.cents, minutes)
        else:
            bills[foyer_id].add(member_id, activity_id, price.unit, price.cents, 1)
