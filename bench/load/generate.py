"""Fill a database and an object store with a large town, for the load test (bench/load/).

Full scale: 100,000 foyers, 250,000 documents (small real PDFs and JPEGs, encrypted through
`Vault.deposit`), 200,000 demandes over the six built-in procedures in every state (through
`procedures.demandes` and `procedures.tasks`), 40 agents in 10 services enrolled in TOTP.
Accounts, foyers and members go in by bulk INSERT, with one password hash reused.

    .venv/bin/python bench/load/generate.py --scale 0.01 [--batch 100]

Settings come from the app's environment variables (DATABASE_URL, STORAGE_URL, VAR_DIR,
MASTER_KEY_FILE...), so the same command fills SQLite + files or PostgreSQL + S3. The
database is migrated first. Re-running resumes: foyers are numbered, and what a foyer
already holds (account, papers, demandes) is skipped. Agents' TOTP secrets are written to
$VAR_DIR/bench-agents.json (0600) for the load test. Prints its own throughput.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import papers
import states
import town
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coffre.models import Document
from procedures import catalogue
from procedures.demande_models import Demande
from procedures.progress import EngineContext
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


def progress(total: int, initial: int) -> Iterator[None]:
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
    with tqdm(total=total, initial=initial, unit="foyer", smoothing=0.05) as bar:
        for _done in range(initial, total):
            yield
            bar.update(1)


def prepare(rt: Runtime) -> tuple[dict[int, list[int]], str]:
    """Schema, services, agents and procedures; agents' ids by service id, the password hash."""
    schema.upgrade(rt.engine)
    password_hash = town.family_password_hash()
    with rt.sessions() as session:
        service_ids = town.ensure_services(session)
        catalogue.publish_built_ins(session, rt.clock)
        secrets_path = rt.settings.var_dir / town.AGENT_SECRETS_FILE
        agents = town.ensure_agents(
            session, rt.clock, rt.keyring, service_ids, secrets_path, password_hash
        )
    by_service: dict[int, list[int]] = defaultdict(list)
    for agent in agents:
        by_service[service_ids[agent.service_code]].append(agent.account_id)
    return by_service, password_hash


def fill(rt: Runtime, foyers: int, batch: int, meter: Meter) -> None:
    """Create foyers 1..foyers in batches, each with its papers and demandes."""
    agents, password_hash = prepare(rt)
    ctx = EngineContext(clock=rt.clock, base_url=rt.settings.base_url, vault=rt.vault)
    vault = rt.vault
    with rt.sessions() as session:
        first_missing = _first_incomplete(session, foyers, batch)
    ticks = progress(foyers, first_missing - 1)
    for start in range(first_missing, foyers + 1, batch):
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


def _first_incomplete(session: Session, foyers: int, batch: int) -> int:
    """The first batch start whose last foyer lacks its demandes (resuming skips the rest)."""
    start = 1
    while start <= foyers:
        last = min(start + batch - 1, foyers)
        ids = town.existing_families(session, range(last, last + 1))
        if last not in ids:
            return start
        count = session.scalar(select(func.count()).where(Demande.foyer_id == ids[last]))
        if (count or 0) < len(states.PROCEDURES[last % 4]):
            return start
        start += batch
    return start


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
    args = parser.parse_args(argv)
    foyers = max(1, round(FULL_FOYERS * args.scale))
    rt = build_runtime(load_settings())
    print(f"Filling {foyers:,} foyers (scale {args.scale}) into {rt.engine.url.get_backend_name()}"
          f" + {type(rt.store).__name__}", flush=True)  # fmt: skip
    meter = Meter()
    began = time.perf_counter()
    fill(rt, foyers, args.batch, meter)
    elapsed = time.perf_counter() - began
    print(f"Done in {elapsed:.1f} s. Throughput of this run:\n{meter.report()}")
    print(totals(rt))
    rt.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
