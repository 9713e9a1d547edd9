"""Fill a database and an object store with a large town, for the load test (bench/load/).

Full scale: 100,000 foyers, 250,000 documents (small real PDFs and JPEGs, encrypted through
`Vault.deposit`), 200,000 demandes over the six built-in procedures in every state (through
`procedures.demandes` and `procedures.tasks`), 40 agents in 10 services enrolled in TOTP;
with `--bookings`, every child enrolled in its school's canteen and a school year of
bookings for the children of a fifth of the schools (bench/load/school_year.py).
Accounts, foyers and members go in by bulk INSERT, with one password hash reused.

    .venv/bin/python bench/load/generate.py --scale 0.01 [--batch 100] [--jobs 2]

Settings come from the app's environment variables (DATABASE_URL, STORAGE_URL, VAR_DIR,
MASTER_KEY_FILE...), so the same command fills SQLite + files or PostgreSQL + S3. The
database is migrated first. Re-running resumes: foyers are numbered, and what a foyer
already holds (account, papers, demandes) is skipped. Agents' TOTP secrets are written to
$VAR_DIR/bench-agents.json (0600) for the load test. Prints its own throughput.
With `--jobs N`, N processes fill every Nth batch each (foyers share nothing, and each
foyer's journal is its own chain, so they do not wait on each other).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import papers
import school_year
import states
import town
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coffre.models import Document
from procedures import catalogue
from procedures.history import EngineContext
from procedures.models import Demande
from web import schema
from web.runtime import Runtime, build_runtime
from web.settings import load_settings

FULL_FOYERS = 100_000


@dataclass
class Meter:
    """Time spent and items made per phase."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    items: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, phase: str, started: float, count: int) -> None:
        self.seconds[phase] += time.perf_counter() - started
        self.items[phase] += count

    def report(self) -> str:
        lines = []
        for phase, seconds in self.seconds.items():
            count = self.items[phase]
            rate = count / seconds if seconds else 0.0
            lines.append(f"  {phase:<10} {count:>9,} in {seconds:8.1f} s  = {rate:9.1f} /s")
        return "\n".join(lines)


def progress(total: int, initial: int, position: int) -> Iterator[None]:
    """A tqdm bar when it is installed (pip install '.[load]'), else a printed line."""
    try:
        from tqdm import tqdm
    except ImportError:
        step = max(1, total // 50)
        for done in range(initial, total):
            if done % step == 0:
                print(f"  {done:,}/{total:,} foyers", flush=True)
            yield
        return
    with tqdm(total=total, initial=initial, unit="foyer", smoothing=0.05, position=position) as bar:
        for _done in range(initial, total):
            yield
            bar.update(1)


def prepare(rt: Runtime) -> None:
    """Schema, services, agents (enrolled, secrets written) and procedures."""
    schema.upgrade(rt.engine)
    with rt.sessions() as session:
        service_ids = town.ensure_services(session)
        catalogue.publish_built_ins(session, rt.clock)
        secrets_path = rt.settings.var_dir / town.AGENT_SECRETS_FILE
        town.ensure_agents(
            session, rt.clock, rt.keyring, service_ids, secrets_path, town.family_password_hash()
        )


def fill(rt: Runtime, foyers: int, batch: int, meter: Meter, part: tuple[int, int]) -> None:
    """Create the part's batches of foyers 1..foyers, each foyer with its papers and demandes.

    Part (k, n) takes every nth batch from the kth; `prepare` has run before.
    """
    password_hash = town.family_password_hash()
    mine = list(range(1, foyers + 1, batch))[part[0] :: part[1]]
    with rt.sessions() as session:
        agents = town.agents_by_service(session)
        starts = [start for start in mine if _incomplete(session, start, foyers, batch)]
    ctx = EngineContext(clock=rt.clock, base_url=rt.settings.base_url, vault=rt.vault)
    vault = rt.vault

    def size(start: int) -> int:
        return min(batch, foyers + 1 - start)

    total = sum(map(size, mine))
    ticks = progress(total, total - sum(map(size, starts)), part[0])
    for start in starts:
        numbers = range(start, min(start + batch, foyers + 1))
        with rt.sessions() as session:
            began = time.perf_counter()
            ids = town.existing_families(session, numbers)
            missing = [n for n in numbers if n not in ids]
            ids |= town.insert_families(session, rt.clock, missing, password_hash)
            meter.add("foyers", began, len(missing))
            for number in numbers:
                began = time.perf_counter()
                made = papers.deposit_papers(session, vault, ids[number], number)
                meter.add("documents", began, made)
                began = time.perf_counter()
                made = states.ensure_demandes(session, ctx, ids[number], number, agents)
                meter.add("demandes", began, made)
                next(ticks, None)


def _incomplete(session: Session, start: int, foyers: int, batch: int) -> bool:
    """Whether the batch's last foyer lacks its demandes (a batch is filled in order)."""
    last = min(start + batch - 1, foyers)
    ids = town.existing_families(session, range(last, last + 1))
    if last not in ids:
        return True
    count = session.scalar(select(func.count()).where(Demande.foyer_id == ids[last]))
    return (count or 0) < len(states.PROCEDURES[last % 4])


def totals(rt: Runtime) -> str:
    with rt.sessions() as session:
        documents = session.scalar(select(func.count()).select_from(Document))
        rows = session.execute(
            select(Demande.status, func.count()).group_by(Demande.status).order_by(Demande.status)
        ).all()
    by_status = ", ".join(f"{status.value} {count:,}" for status, count in rows)
    return f"  documents {documents:,}; demandes by status: {by_status}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 100,000 foyers")
    parser.add_argument("--batch", type=int, default=100, help="foyers per bulk INSERT")
    parser.add_argument("--jobs", type=int, default=1, help="processes filling in parallel")
    parser.add_argument(
        "--bookings",
        action="store_true",
        help="then a school year of canteen bookings (bench/load/school_year.py)",
    )
    parser.add_argument("--part", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs is at least 1")
    foyers = max(1, round(FULL_FOYERS * args.scale))
    rt = build_runtime(load_settings())
    meter = Meter()
    began = time.perf_counter()
    if args.part is not None:  # one of the --jobs processes
        fill(rt, foyers, args.batch, meter, (args.part, args.jobs))
        print(f"Part {args.part + 1}/{args.jobs}:\n{meter.report()}", flush=True)
        rt.engine.dispose()
        return 0
    print(f"Filling {foyers:,} foyers (scale {args.scale}) into {rt.engine.url.get_backend_name()}"
          f" + {type(rt.store).__name__}, {args.jobs} process(es)", flush=True)  # fmt: skip
    prepare(rt)
    if args.jobs == 1:
        fill(rt, foyers, args.batch, meter, (0, 1))
        print(f"Throughput of this run:\n{meter.report()}")
    else:
        command = [sys.executable, __file__, *(argv if argv is not None else sys.argv[1:])]
        parts = [subprocess.Popen([*command, "--part", str(k)]) for k in range(args.jobs)]  # noqa: S603 (this script, its own arguments)
        failed = [k for k, process in enumerate(parts) if process.wait() != 0]
        if failed:
            print(f"Part(s) {failed} failed; run the same command again to resume.")
            return 1
    if args.bookings:
        began_bookings = time.perf_counter()
        with rt.sessions() as session:
            service_id = town.ensure_services(session)["scolaire"]
            made = school_year.ensure_school_year(session, service_id, rt.clock.now())
        print(f"  bookings  {made:>9,} in {time.perf_counter() - began_bookings:8.1f} s")
    print(f"Done in {time.perf_counter() - began:.1f} s.")
    print(totals(rt))
    rt.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
