"""Bookings at a town's scale: the family's week, a site's day sheet, weekly patterns.

Generates, by bulk inserts, a town of --foyers foyers (one to three children each, spread
over --sites school sites, each with its canteen on Mondays, Tuesdays, Thursdays and Fridays
of the 2026-2027 school year), books every child of --booked-sites sites on every session
of the year, then prints:

(a) the family's week (`reservations.calendar.family_week`) and month (`family_days` over a
    month, the month view) of a foyer with three children: median and p95 over --queries;
(b) a site's day sheet (`reservations.attendance.sheet`) with --children booked children:
    median and p95 over --queries days;
(c) bookings per second applied from a weekly pattern (`reservations.bookings.book_pattern`,
    four days a week for the whole year) for --pattern-children children of a fresh site.

    .venv/bin/python bench/bookings_scale.py [--backends postgres,sqlite] [--foyers 100000]
        [--sites 50] [--booked-sites 5] [--children 300] [--queries 50] [--pattern-children 50]
    quick run: --foyers 5000 --booked-sites 2 --queries 10 --pattern-children 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.orm import Session

from coffre.clock import FrozenClock
from coffre.db import make_engine, make_session_factory
from coffre.models import Foyer, FoyerMember, MemberRole
from procedures.working_hours import WorkingCalendar
from reservations import attendance, bookings
from reservations.bookings import Booker, Context
from reservations.calendar import family_days, family_week
from reservations.models import (
    ActivitySession,
    Channel,
)
from web import schema

sys.path.insert(0, str(Path(__file__).resolve().parent / "load"))
import school_year
from school_year import BATCH, CANTEEN_DAYS, YEAR_END, YEAR_START


def generate(session: Session, clock: FrozenClock, args: argparse.Namespace) -> dict[str, object]:
    """The town; returns the ids the measures need."""
    service = school_year.bench_service(session)
    # The last site: the weekly patterns' fresh one.
    sites = school_year.open_canteens(session, service.id, args.sites + 1)
    now = clock.now()
    children_of_site: dict[int, list[tuple[int, int]]] = {site: [] for site in sites}
    three_children_foyer = None
    for start in range(0, args.foyers, BATCH):
        numbers = range(start, min(start + BATCH, args.foyers))
        foyer_ids = session.scalars(
            insert(Foyer).returning(Foyer.id),
            [{"label": f"Foyer {n}", "created_at": now} for n in numbers],
        ).all()
        rows = []
        for number, foyer_id in zip(numbers, foyer_ids, strict=True):
            rows.append(_member(foyer_id, MemberRole.ADULTE, "Parent", number))
            for child in range(1 + number % 3):
                rows.append(_member(foyer_id, MemberRole.ENFANT, f"Enfant{child}", number))
        members = session.execute(
            insert(FoyerMember).returning(FoyerMember.id, FoyerMember.foyer_id, FoyerMember.role),
            rows,
        ).all()
        for member_id, foyer_id, role in members:
            if role is MemberRole.ENFANT:
                site = sites[foyer_id % args.sites]
                children_of_site[site].append((member_id, foyer_id))
        if three_children_foyer is None:
            three_children_foyer = next(f for f in foyer_ids if (f - foyer_ids[0]) % 3 == 2)
        session.commit()
    booked_sites = sites[: args.booked_sites]
    measured_site = booked_sites[0]
    pattern_site = sites[-1]
    children_of_site[measured_site] = children_of_site[measured_site][: args.children]
    fresh = [c for site in sites[args.booked_sites : -1] for c in children_of_site[site]]
    children_of_site[pattern_site] = fresh[: args.pattern_children]
    # The three-children foyer's children go to the measured site too.
    family = [
        (member_id, foyer_id)
        for site in sites
        for member_id, foyer_id in children_of_site[site]
        if foyer_id == three_children_foyer
    ]
    children_of_site[measured_site] += [
        c for c in family if c not in children_of_site[measured_site]
    ]
    for site in [*booked_sites, pattern_site]:
        school_year.enrol_all(session, site, children_of_site[site], now)
    bookings_written = sum(
        school_year.book_year(session, site, children_of_site[site], now) for site in booked_sites
    )
    return {
        "service": service.id,
        "measured_site": measured_site,
        "pattern_site": pattern_site,
        "pattern_children": children_of_site[pattern_site],
        "family": three_children_foyer,
        "bookings": bookings_written,
        "sheet_children": len(children_of_site[measured_site]),
    }


def _member(foyer_id: int, role: MemberRole, first: str, number: int) -> dict[str, object]:
    return {"foyer_id": foyer_id, "role": role, "first_name": first, "last_name": f"N{number}",
            "has_pai": number % 17 == 0}  # fmt: skip


def timed(run: Callable[[], object], times: int) -> tuple[float, float]:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        spent.append((time.perf_counter() - started) * 1000)
    ordered = sorted(spent)
    return statistics.median(spent), ordered[
        min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))
    ]


def measure(url: str, args: argparse.Namespace) -> None:
    engine = make_engine(url)
    schema.upgrade(engine)
    sessions = make_session_factory(engine)
    clock = FrozenClock(datetime(2026, 8, 24, 8, 0, tzinfo=UTC))
    ctx = Context(clock=clock, calendar=WorkingCalendar())
    started = time.perf_counter()
    with sessions() as session:
        town = generate(session, clock, args)
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))  # the planner's figures after a bulk load
    print(f"  generated {args.foyers:,} foyers and {town['bookings']:,} bookings "
          f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
    mondays = [YEAR_START + timedelta(days=7 * n - YEAR_START.weekday()) for n in range(40)]
    with sessions() as session:
        foyer_id: int = town["family"]  # type: ignore[assignment]
        weeks = iter(mondays * (args.queries // len(mondays) + 1))
        median, p95 = timed(lambda: family_week(session, ctx, foyer_id, next(weeks)), args.queries)
        print(f"  (a) family's week, 3 children: median {median:.1f} ms, p95 {p95:.1f} ms")
        firsts = [date(2026 + (m < 9), m, 1) for m in (9, 10, 11, 12, 1, 2, 3, 4, 5, 6)]
        months = iter(firsts * (args.queries // len(firsts) + 1))

        def month() -> object:
            first = next(months)
            last = (first + timedelta(days=31)).replace(day=1) - timedelta(days=1)
            return family_days(session, ctx, foyer_id, first, last)

        median, p95 = timed(month, args.queries)
        print(f"  (a) family's month, 3 children: median {median:.1f} ms, p95 {p95:.1f} ms")
        agent = attendance.Agent(0, frozenset({town["service"]}))  # type: ignore[arg-type]
        slots = session.scalars(
            select(ActivitySession.id).where(ActivitySession.activity_id == town["measured_site"])
        ).all()
        days = iter(list(slots) * (args.queries // len(slots) + 1))
        median, p95 = timed(lambda: attendance.sheet(session, agent, next(days)), args.queries)
        print(f"  (b) day sheet, {town['sheet_children']} children: "
              f"median {median:.1f} ms, p95 {p95:.1f} ms")  # fmt: skip
    with sessions() as session:
        written, started = 0, time.perf_counter()
        for member_id, foyer_id in town["pattern_children"]:  # type: ignore[attr-defined]
            booker = Booker(None, Channel.FAMILLE, foyer_id)
            result = bookings.book_pattern(
                session,
                ctx,
                booker,
                member_id,
                town["pattern_site"],
                CANTEEN_DAYS,
                YEAR_END,  # type: ignore[arg-type]
            )
            written += len(result.booked) + len(result.waiting)
        spent = time.perf_counter() - started
        print(f"  (c) weekly patterns: {written:,} bookings in {spent:.1f} s, "
              f"{written / spent:,.0f} bookings/s")  # fmt: skip
    engine.dispose()


@contextmanager
def database(backend: str, args: argparse.Namespace, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'reservations.db'}"
        return
    admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
    name = f"bench_reservations_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield args.postgres_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--foyers", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--booked-sites", type=int, default=5)
    parser.add_argument("--children", type=int, default=300)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--pattern-children", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        for backend in args.backends.split(","):
            print(f"{backend}:")
            with database(backend, args, Path(workdir)) as url:
                measure(url, args)


if __name__ == "__main__":
    main()
