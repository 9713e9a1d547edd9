"""The monthly run at a town's scale: September invoiced for every foyer.

Generates, by bulk inserts, a town of --foyers foyers (one to three children each, over
--sites school canteens with their grids), every child booked on every canteen day of
September 2026, then runs `facturation.run.emit` for September in a process of its own and
prints its time and peak memory (the process's maximum resident set), then checks the ledger.
Run it at two sizes to see memory stay flat (the run goes by batches of foyers):

    .venv/bin/python bench/billing_run.py [--backend postgres|sqlite] [--foyers 100000]
    quick run: --foyers 5000
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import create_engine, insert, select, text

from coffre.clock import FrozenClock
from coffre.db import make_engine, make_session_factory
from coffre.models import Foyer, FoyerMember, MemberRole
from facturation import ledger, run
from reservations.models import ActivitySession, Booking, BookingState
from web import schema

sys.path.insert(0, str(Path(__file__).resolve().parent / "load"))
import school_year

SEPTEMBER = date(2026, 9, 1)
BATCH = 5000


def generate(url: str, foyers: int, sites: int) -> int:
    """The town; how many bookings."""
    engine = make_engine(url)
    schema.upgrade(engine)
    clock = FrozenClock(datetime(2026, 8, 24, 8, 0, tzinfo=UTC))
    now = clock.now()
    with make_session_factory(engine)() as session:
        service = school_year.bench_service(session)
        canteens = school_year.open_canteens(session, service.id, sites)
        school_year.price_canteens(session, canteens, SEPTEMBER, now, step=80)
        september = {
            canteen: session.scalars(
                select(ActivitySession.id).where(
                    ActivitySession.activity_id == canteen,
                    ActivitySession.day.between(SEPTEMBER, date(2026, 9, 30)),
                )
            ).all()
            for canteen in canteens
        }
        written = 0
        for start in range(0, foyers, BATCH):
            numbers = range(start, min(start + BATCH, foyers))
            foyer_ids = session.scalars(
                insert(Foyer).returning(Foyer.id),
                [{"label": f"Foyer {n}", "created_at": now} for n in numbers],
            ).all()
            rows = []
            for number, foyer_id in zip(numbers, foyer_ids, strict=True):
                rows.append({"foyer_id": foyer_id, "role": MemberRole.ADULTE,
                             "first_name": "Parent", "last_name": f"N{number}"})  # fmt: skip
                rows += [
                    {"foyer_id": foyer_id, "role": MemberRole.ENFANT,
                     "first_name": f"Enfant{c}", "last_name": f"N{number}"}
                    for c in range(1 + number % 3)
                ]  # fmt: skip
            members = session.execute(
                insert(FoyerMember).returning(
                    FoyerMember.id, FoyerMember.foyer_id, FoyerMember.role
                ),
                rows,
            ).all()
            by_site: dict[int, list[tuple[int, int]]] = {}
            for member_id, foyer_id, role in members:
                if role is MemberRole.ENFANT:
                    site = canteens[foyer_id % sites]
                    by_site.setdefault(site, []).append((member_id, foyer_id))
            bookings = []
            for canteen, kids in by_site.items():
                school_year.enrol_all(session, canteen, kids, now)
                bookings += [
                    {"session_id": slot, "foyer_id": f, "member_id": m,
                     "state": BookingState.RESERVEE, "created_at": now, "updated_at": now}
                    for slot in september[canteen]
                    for m, f in kids
                ]  # fmt: skip
            for chunk in range(0, len(bookings), BATCH):
                session.execute(insert(Booking), bookings[chunk : chunk + BATCH])
            written += len(bookings)
            session.commit()
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
    engine.dispose()
    return written


def emit(url: str) -> None:
    """The run itself, in this process: prints its time and peak memory."""
    engine = make_engine(url)
    clock = FrozenClock(datetime(2026, 10, 1, 5, 0, tzinfo=UTC))
    with make_session_factory(engine)() as session:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        [result] = run.emit(session, clock, SEPTEMBER)
        spent = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"  monthly run: {result.invoices:,} invoices, {result.total_cents / 100:,.2f} EUR "
              f"in {spent:.1f} s ({result.invoices / spent:,.0f} invoices/s); "
              f"peak RSS {peak / 1024:.0f} MiB (before it: {before / 1024:.0f} MiB)")  # fmt: skip
        started = time.perf_counter()
        problems = ledger.verify(session)
        print(
            f"  ledger check: {len(problems)} problem(s) in {time.perf_counter() - started:.1f} s"
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--foyers", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--emit-only", help=argparse.SUPPRESS)  # the run's own process
    args = parser.parse_args()
    if args.emit_only:
        emit(args.emit_only)
        return
    with tempfile.TemporaryDirectory() as workdir:
        admin, name = None, ""
        if args.backend == "sqlite":
            url = f"sqlite:///{Path(workdir) / 'billing.db'}"
        else:
            admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
            name = f"bench_billing_{uuid.uuid4().hex[:12]}"
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            url = args.postgres_url.rsplit("/", 1)[0] + "/" + name
        try:
            print(f"{args.backend}:")
            started = time.perf_counter()
            written = generate(url, args.foyers, args.sites)
            print(f"  generated {args.foyers:,} foyers and {written:,} September bookings "
                  f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
            subprocess.run(  # noqa: S603  (this script, its own arguments)
                [sys.executable, __file__, "--emit-only", url], check=True
            )
        finally:
            if admin is not None:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()
