"""The monthly run: September's bookings and attendance become invoices, priced by band."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from accounts.models import Entity
from coffre.models import Foyer, FoyerMember, MemberRole
from facturation import ledger, run, tariffs
from facturation.errors import BillingRefused
from facturation.models import BANDS, Invoice, LedgerEntry, Unit
from reservations import activities, bookings, custody
from reservations.bookings import Booker, Context
from reservations.models import ActivityKind, BillingRule, Channel, CutoffRule
from tests.facturation.scene import DAYS, END, SEPTEMBER, Town, grid
from tests.procedures.flows import child_of
from tests.reservations.test_bookings import CALENDAR, make_activity, open_days


def invoice_of(session: Session, foyer: Foyer) -> Invoice:
    return session.scalars(select(Invoice).where(Invoice.foyer_id == foyer.id)).one()


def test_booked_days_are_invoiced_at_the_foyers_band_and_traced_line_by_line(
    town: Town, db_session: Session
) -> None:
    banded, unknown = town.family("Martin", band="B"), town.family("Nguyen")
    for foyer in (banded, unknown):
        town.book(foyer)
    town.mark(banded, DAYS[0], True)
    town.mark(banded, DAYS[1], False)  # absent, no certificate: billed (the canteen's rule)

    result = town.emit()

    assert (result.created, result.invoices, result.total_cents) == (True, 2, 4 * 120 + 4 * 520)
    first, second = invoice_of(db_session, banded), invoice_of(db_session, unknown)
    assert (first.band, first.band_assumed, first.total_cents) == ("B", False, 480)
    assert (second.band, second.band_assumed, second.total_cents) == ("F", True, 2080)
    [line] = first.lines
    assert (line.quantity, line.unit_price_cents, line.amount_cents, line.unit) == (
        4, 120, 480, Unit.JOUR,
    )  # fmt: skip
    assert line.label == "Cantine de l'école Jules-Ferry — Lou"
    slug = town.service.entity.slug.upper()
    assert (first.number, second.number) == (f"{slug}-2026-000001", f"{slug}-2026-000002")
    assert first.due_on == date(2026, 10, 16)
    assert ledger.balance(db_session, banded.id) == 480
    assert ledger.verify(db_session) == []


def test_a_second_run_creates_nothing_and_says_so(town: Town, db_session: Session) -> None:
    town.book(town.family("Martin", band="A"))
    first = town.emit()

    again = town.emit()

    assert (again.created, again.invoices, again.total_cents) == (False, 1, first.total_cents)
    assert db_session.scalar(select(func.count(Invoice.id))) == 1
    assert db_session.scalar(select(func.count(LedgerEntry.id))) == 1


def test_a_month_not_over_or_an_activity_without_tariff_invoices_nothing(
    town: Town, db_session: Session
) -> None:
    town.book(town.family("Martin"))
    entity = db_session.get(Entity, town.service.entity_id)
    assert entity is not None
    town.clock.current = datetime(2026, 9, 30, 12, 0, tzinfo=UTC)
    with pytest.raises(BillingRefused, match="septembre 2026 n'est pas terminé"):
        run.emit_entity(db_session, town.clock, entity, SEPTEMBER)
    care = make_activity(db_session, town.service, kind=ActivityKind.PERISCOLAIRE_SOIR)
    care.name = "Garderie du soir"
    care_days = open_days(db_session, care, DAYS[0], DAYS[0])
    foyer = town.family("Petit")
    activities.enrol(db_session, town.clock, care.id, child_of(foyer), SEPTEMBER, END)
    town.clock.current = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
    bookings.book(
        db_session, Context(clock=town.clock, calendar=CALENDAR),
        Booker(None, Channel.FAMILLE, foyer.id), child_of(foyer), care_days[DAYS[0]],
    )  # fmt: skip

    with pytest.raises(BillingRefused, match=r"Garderie du soir\. Rien n'a été facturé\."):
        town.emit()

    assert db_session.scalar(select(func.count(Invoice.id))) == 0
    assert db_session.scalar(text("SELECT count(*) FROM billing_runs")) == 0


def test_justified_absences_closed_days_flat_fees_and_hours_follow_their_rules(
    town: Town, db_session: Session
) -> None:
    foyer = town.family("Martin", band="C")
    town.book(foyer)
    activities.close_day(db_session, town.canteen.id, DAYS[3], "Grève")  # Thursday: not billed
    town.canteen.bills_unjustified_absence = False
    town.mark(foyer, DAYS[0], False)  # absent: this canteen never bills a missed day
    creche = make_activity(
        db_session, town.service, kind=ActivityKind.VACANCES, rule=CutoffRule.JOURS_CALENDAIRES
    )
    creche.name = "Crèche des Lilas"
    creche_days = open_days(db_session, creche, DAYS[0], DAYS[0])  # 11:45-13:30: 105 minutes
    flat = make_activity(db_session, town.service, kind=ActivityKind.MERCREDI)
    flat.name = "Accueil du mercredi"
    grid(db_session, town.clock, creche, Unit.HEURE, factor=3)  # 630 c an hour in band C
    grid(db_session, town.clock, flat, Unit.FORFAIT_MENSUEL, factor=10)
    for activity in (creche, flat):
        activities.enrol(
            db_session,
            town.clock,
            activity.id,
            child_of(foyer),
            SEPTEMBER,
            END,
        )
    bookings.book(
        db_session, Context(clock=town.clock, calendar=CALENDAR),
        Booker(None, Channel.FAMILLE, foyer.id), child_of(foyer), creche_days[DAYS[0]],
    )  # fmt: skip

    town.emit()

    lines = {line.label.split(" — ")[0]: line for line in invoice_of(db_session, foyer).lines}
    canteen = lines["Cantine de l'école Jules-Ferry"]
    assert (canteen.quantity, canteen.amount_cents) == (2, 420)  # Tuesday, Wednesday
    hours = lines["Crèche des Lilas"]
    assert (hours.unit, hours.quantity, hours.unit_price_cents, hours.amount_cents) == (
        Unit.HEURE, 105, 630, 1103,  # 105 / 60 x 6.30 = 11.025, rounded half up
    )  # fmt: skip
    fee = lines["Accueil du mercredi"]
    assert (fee.unit, fee.quantity, fee.amount_cents) == (Unit.FORFAIT_MENSUEL, 1, 2100)
    assert invoice_of(db_session, foyer).total_cents == 420 + 1103 + 2100
    assert ledger.verify(db_session) == []


def test_a_child_shared_by_two_homes_is_invoiced_to_the_home_that_booked(
    town: Town, db_session: Session
) -> None:
    mother, father = town.family("Roux", band="A"), town.family("Petit", band="E")
    custody.share(db_session, town.clock, child_of(mother), child_of(father), date(2026, 9, 14))
    db_session.commit()
    town.book(mother, days=DAYS[:2])
    town.book(father, days=[date(2026, 9, 21), date(2026, 9, 22), date(2026, 9, 24)])

    town.emit()

    assert invoice_of(db_session, mother).total_cents == 2 * 50
    assert invoice_of(db_session, father).total_cents == 3 * 410


def test_a_new_grid_applies_from_its_day_and_leaves_the_past_as_it_was(
    town: Town, db_session: Session
) -> None:
    foyer = town.family("Martin", band="A")
    town.book(foyer, days=[DAYS[0], date(2026, 9, 28)])
    town.clock.current = datetime(2026, 9, 20, 8, 0, tzinfo=UTC)
    tariffs.set_grid(
        db_session, town.clock, None, town.canteen.id, Unit.JOUR,
        dict.fromkeys(BANDS, 99), date(2026, 9, 21),
    )  # fmt: skip
    for past in (date(2026, 9, 20), date(2026, 9, 1)):
        with pytest.raises(BillingRefused, match="à partir de demain au plus tôt"):
            tariffs.set_grid(
                db_session, town.clock, None, town.canteen.id, Unit.JOUR,
                dict.fromkeys(BANDS, 99), past,
            )  # fmt: skip
    with pytest.raises(BillingRefused, match="chaque tranche"):
        tariffs.set_grid(
            db_session, town.clock, None, town.canteen.id, Unit.JOUR, {"A": 99}, date(2026, 10, 1)
        )

    town.emit()

    lines = sorted(
        (line.unit_price_cents, line.quantity) for line in invoice_of(db_session, foyer).lines
    )
    assert lines == [(50, 1), (99, 1)]


def test_the_check_finds_a_ledger_that_disagrees(town: Town, db_session: Session) -> None:
    town.book(town.family("Martin", band="A"))
    town.emit()

    db_session.execute(text("UPDATE invoices SET total_cents = total_cents + 1"))
    db_session.commit()

    problems = ledger.verify(db_session)
    assert any("total différent de la somme des lignes" in p for p in problems)
    assert any("pas exactement une écriture de son montant" in p for p in problems)
    assert any("solde du grand livre 200 c, attendu 201 c" in p for p in problems)


def test_each_foyer_member_is_a_child_of_the_foyer_invoiced(
    town: Town, db_session: Session
) -> None:
    foyer = town.family("Martin", band="A")
    second = FoyerMember(role=MemberRole.ENFANT, first_name="Zoé", last_name="Martin")
    foyer.members.append(second)
    db_session.flush()
    activities.enrol(db_session, town.clock, town.canteen.id, second.id, SEPTEMBER, END)
    town.book(foyer)
    town.book(foyer, member=second.id, days=DAYS[:1])

    town.emit()

    invoice = invoice_of(db_session, foyer)
    assert sorted((line.label, line.quantity) for line in invoice.lines) == [
        ("Cantine de l'école Jules-Ferry — Lou", 4),
        ("Cantine de l'école Jules-Ferry — Zoé", 1),
    ]
    assert invoice.total_cents == 5 * 50


def test_an_interrupted_run_resumes_and_invoices_no_foyer_twice(
    town: Town, db_session: Session
) -> None:
    first, second = town.family("Martin", band="A"), town.family("Nguyen", band="B")
    town.book(first)
    town.emit()
    # As if the run had stopped after its first batch: the month is taken, not finished.
    db_session.execute(text("UPDATE billing_runs SET invoices = -1"))
    db_session.commit()
    town.clock.current = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
    town.book(second)  # booked, not invoiced yet when the run stopped

    resumed = town.emit()

    assert (resumed.created, resumed.invoices) == (True, 1)  # the foyer left, only
    assert sorted(i.foyer_id for i in db_session.scalars(select(Invoice))) == [first.id, second.id]
    assert db_session.scalar(text("SELECT invoices FROM billing_runs")) == 2
    assert ledger.verify(db_session) == []


def test_the_worker_invoices_last_month_from_the_billing_day_on(
    town: Town, db_session: Session
) -> None:
    town.book(town.family("Martin", band="A"))
    town.clock.current = datetime(2026, 10, 3, 8, 0, tzinfo=UTC)

    assert run.monthly(db_session, town.clock, billing_day=5) == 0  # the 3rd: not yet
    town.clock.current = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)
    assert run.monthly(db_session, town.clock, billing_day=5) == 1
    assert run.monthly(db_session, town.clock, billing_day=5) == 0  # once


@pytest.mark.parametrize(
    ("rule", "billed"),
    [
        (BillingRule.RESERVATION, 3),  # present, absent, not marked
        (BillingRule.PRESENCE_ET_ABSENCE, 2),  # present, absent
        (BillingRule.PRESENCE, 1),  # present
    ],
)
def test_each_billing_rule_bills_its_days(
    town: Town, db_session: Session, rule: BillingRule, billed: int
) -> None:
    foyer = town.family("Martin", band="A")
    town.book(foyer, days=DAYS[:3])
    town.mark(foyer, DAYS[0], True)
    town.mark(foyer, DAYS[1], False)
    town.canteen.billing_rule = rule
    db_session.commit()

    town.emit()

    assert invoice_of(db_session, foyer).lines[0].quantity == billed
