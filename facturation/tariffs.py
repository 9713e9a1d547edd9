"""Tariff grids: per activity, a price per family-quotient band and unit, from a day on.

A new grid starts on a day to come and applies from then; the grids before it stay as they
were, so an invoice of the past is always priced as it was. The band of a foyer is the one
an agent validated (procedure *quotient familial*) while it is valid; without one, the
highest band, and the family is told why.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import Clock, local_today
from coffre.models import Foyer
from facturation.errors import BillingNotFound, BillingRefused
from facturation.models import BANDS, HIGHEST_BAND, Tariff, Unit
from facturation.money import MAX_CENTS
from reservations.models import Activity, Enrolment


@dataclass(frozen=True)
class Band:
    code: str
    assumed: bool  # no valid quotient: the highest band


def band_of(foyer: Foyer, day: date) -> Band:
    """The foyer's band on a day: its validated one while valid, else the highest."""
    valid = foyer.qf_valid_until is not None and foyer.qf_valid_until >= day
    if valid and foyer.tranche_qf in BANDS:
        return Band(str(foyer.tranche_qf), False)
    return Band(HIGHEST_BAND, True)


@dataclass(frozen=True)
class Price:
    unit: Unit
    cents: int
    valid_from: date


class Grids:
    """The tariffs of some activities, read once: the price of a unit for a band on a day."""

    def __init__(self, session: Session, activity_ids: Iterable[int]) -> None:
        self._prices: dict[tuple[int, str], list[Price]] = defaultdict(list)
        rows = session.scalars(
            select(Tariff)
            .where(Tariff.activity_id.in_(list(activity_ids)))
            .order_by(Tariff.valid_from)
        )
        self._starts: dict[tuple[int, str], list[date]] = defaultdict(list)
        for row in rows:  # in order of their first day
            key = (row.activity_id, row.band)
            self._prices[key].append(Price(row.unit, row.price_cents, row.valid_from))
            self._starts[key].append(row.valid_from)

    def price(self, activity_id: int, band: str, day: date) -> Price | None:
        """Called for each booked day of a town's month: a bisection, nothing rebuilt."""
        key = (activity_id, band)
        index = bisect_right(self._starts.get(key, []), day)
        return self._prices[key][index - 1] if index else None


def set_grid(
    session: Session,
    clock: Clock,
    account_id: int | None,
    activity_id: int,
    unit: Unit,
    prices: Mapping[str, int],
    valid_from: date,
) -> list[Tariff]:
    """A new grid for the activity from a day to come (the caller commits)."""
    if session.get(Activity, activity_id) is None:
        raise BillingNotFound("Cette activité est introuvable.")
    if set(prices) != set(BANDS):
        raise BillingRefused("Donnez un prix pour chaque tranche, de A à F.")
    if any(not 0 <= cents <= MAX_CENTS for cents in prices.values()):
        raise BillingRefused("Le prix doit être compris entre 0 et 100 000 €.")
    if valid_from <= local_today(clock):
        raise BillingRefused(
            "Une nouvelle grille s'applique à partir de demain au plus tôt : "
            "les factures passées gardent leurs prix."
        )
    taken = session.scalar(
        select(Tariff.id).where(Tariff.activity_id == activity_id, Tariff.valid_from == valid_from)
    )
    if taken is not None:
        raise BillingRefused("Une grille commence déjà ce jour-là pour cette activité.")
    rows = [
        Tariff(
            activity_id=activity_id, band=band, unit=unit, price_cents=prices[band],
            valid_from=valid_from, created_at=clock.now(), created_by=account_id,
        )
        for band in BANDS
    ]  # fmt: skip
    session.add_all(rows)
    session.flush()
    return rows


@dataclass(frozen=True)
class AppliedPrice:
    """A price a family pays now: its band's, for an activity one of its children attends."""

    activity: str
    unit: Unit
    cents: int


def prices_for_foyer(session: Session, foyer: Foyer, day: date) -> list[AppliedPrice]:
    """The grids that apply to the foyer on a day: its band's price for each activity its
    children are enrolled in."""
    band = band_of(foyer, day).code
    enrolled = session.scalars(
        select(Activity)
        .where(
            Activity.id.in_(
                select(Enrolment.activity_id).where(
                    Enrolment.foyer_id == foyer.id,
                    Enrolment.starts_on <= day,
                    Enrolment.ends_on >= day,
                )
            )
        )
        .order_by(Activity.name)
    ).all()
    grids = Grids(session, [activity.id for activity in enrolled])
    applied = []
    for activity in enrolled:
        price = grids.price(activity.id, band, day)
        if price is not None:
            applied.append(AppliedPrice(activity.name, price.unit, price.cents))
    return applied


@dataclass(frozen=True)
class GridView:
    """An activity and its grids: the one in force today, and any to come."""

    activity: Activity
    entity_id: int
    current: Mapping[str, Price]
    upcoming: Sequence[tuple[date, Mapping[str, Price]]]


def grids_of(session: Session, entity_id: int | None, today: date) -> list[GridView]:
    """The activities of one entity (every entity: None) with their grids."""
    query = select(Activity, Service.entity_id).join(Service, Service.id == Activity.service_id)
    if entity_id is not None:
        query = query.where(Service.entity_id == entity_id)
    rows = session.execute(query.order_by(Activity.site, Activity.name)).all()
    of_activity: dict[int, list[Tariff]] = defaultdict(list)
    for tariff in session.scalars(
        select(Tariff).where(Tariff.activity_id.in_([a.id for a, _ in rows]))
    ):
        of_activity[tariff.activity_id].append(tariff)
    views = []
    for activity, owner in rows:
        mine = of_activity[activity.id]
        starts = sorted({t.valid_from for t in mine})
        current_from = max((d for d in starts if d <= today), default=None)
        current = _grid_on(mine, current_from) if current_from else {}
        upcoming = [(day, _grid_on(mine, day)) for day in starts if day > today]
        views.append(GridView(activity, owner, current, upcoming))
    return views


def _grid_on(tariffs: list[Tariff], day: date) -> dict[str, Price]:
    """The prices of the grid that starts on `day`, per band."""
    return {
        t.band: Price(t.unit, t.price_cents, t.valid_from) for t in tariffs if t.valid_from == day
    }
