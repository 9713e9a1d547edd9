"""The billing tests' town: a canteen with its grid from 1 September, families, an agent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from accounts.models import Entity, Service
from coffre.clock import FrozenClock
from coffre.models import Foyer
from facturation import run, tariffs
from facturation.models import BANDS, Unit
from reservations import activities, attendance, bookings
from reservations.attendance import Agent
from reservations.bookings import Booker, Context
from reservations.models import Activity, Channel
from tests.coffre.conftest import make_foyer
from tests.procedures.flows import child_of
from tests.reservations.test_bookings import CALENDAR

SEPTEMBER, END = date(2026, 9, 1), date(2026, 9, 30)
DAYS = [date(2026, 9, d) for d in (14, 15, 16, 17)]  # Monday to Thursday
PRICES = dict(zip(BANDS, (50, 120, 210, 320, 410, 520), strict=True))  # cents a meal


def grid(
    session: Session, clock: FrozenClock, activity: Activity, unit: Unit, factor: int = 1
) -> None:
    """The activity's grid from 1 September (set the day before it starts)."""
    clock.current = datetime(2026, 8, 31, 8, 0, tzinfo=UTC)
    prices = {band: cents * factor for band, cents in PRICES.items()}
    tariffs.set_grid(session, clock, None, activity.id, unit, prices, SEPTEMBER)
    clock.current = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


@dataclass
class Town:
    session: Session
    clock: FrozenClock
    service: Service
    canteen: Activity
    days: dict[date, int]
    staff: Agent

    def family(self, label: str, band: str | None = None) -> Foyer:
        """A foyer whose child is enrolled in the canteen; `band` validated until next year."""
        foyer = make_foyer(self.session, self.clock, label)
        if band is not None:
            foyer.tranche_qf, foyer.qf_valid_until = band, date(2027, 8, 31)
        activities.enrol(
            self.session, self.clock, self.canteen.id, child_of(foyer), SEPTEMBER, date(2027, 7, 3)
        )
        self.session.commit()
        return foyer

    def book(self, foyer: Foyer, member: int | None = None, days: list[date] = DAYS) -> None:
        ctx = Context(clock=self.clock, calendar=CALENDAR)
        for day in days:
            bookings.book(
                self.session, ctx, Booker(None, Channel.FAMILLE, foyer.id),
                member or child_of(foyer), self.days[day],
            )  # fmt: skip

    def mark(self, foyer: Foyer, day: date, present: bool) -> None:
        attendance.mark(
            self.session, self.clock, self.staff, self.days[day], child_of(foyer), present
        )

    def emit(self) -> run.RunResult:
        self.clock.current = datetime(2026, 10, 1, 5, 0, tzinfo=UTC)
        entity = self.session.get(Entity, self.service.entity_id)
        assert entity is not None
        return run.emit_entity(self.session, self.clock, entity, SEPTEMBER)
