"""The procedure engine's speed, in memory and through the services, and the inbox's latency.

Prints:

(a) crèche demandes run per second by SpiffWorkflow in memory: start the checked diagram,
    complete its three human tasks, reach "place acceptée" (operations answer {}); never
    saved; saved and restored before each task with SpiffWorkflow's own serializer (the spec
    travels with the state); and with the project's (`engine.dump` / `restore`: the state
    names its parsed diagram), as the service layer does, with the saved state's size;
(b) for each database backend (SQLite file, PostgreSQL scratch database), the same demande
    per second driven through the service layer with persistence (`demandes.submit` with
    three documents granted, `tasks.claim` / `complete`, `complete_for_family`: the vault's
    grants and journal, the e-mails, the back-office export, the inbox rows), the SQL
    statements and commits it takes, and its ratio to the project's saved-in-memory rate.
    The two are measured in turns (`--rounds` times, medians), so that both see the same
    machine;
(c) the agent's inbox (`procedures.inbox.listing.inbox`, 50 rows a page, sorted by deadline) among
    N open demandes over 20 procedures and 10 services, written by bulk inserts (not through
    the engine), for an agent in 9 of the 10 services (the worst scope: ~90 % of the town):
    median and p95 over the queries, for a few tabs and filters.

The goal lines close the output: the inbox's first page against 20 ms, then the ratio
persisted / saved-in-memory against 0.50, PostgreSQL's last.

    .venv/bin/python bench/engine.py [--backends sqlite,postgres] [--memory-runs 300]
        [--service-runs 30] [--rounds 3] [--open-demandes 100000] [--queries 50]
    quick run: --memory-runs 50 --service-runs 5 --open-demandes 5000 --queries 10

PostgreSQL is reached at --postgres-url (a server URL; a throw-away database is created
on it and dropped afterwards).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import SpiffWorkflow
import sqlalchemy
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from sqlalchemy import Engine, create_engine, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from accounts.credentials import create_account
from accounts.models import AgentService, Entity, Role, Service
from coffre.clock import SystemClock
from coffre.db import make_engine, make_session_factory
from coffre.keyring import new_key_text, parse_keyring
from coffre.models import Foyer, FoyerMember, MemberRole
from coffre.vault import Limits, Upload, Vault
from demo.seed import demo_pdf
from procedures import catalogue, demandes, tasks
from procedures.bpmn import engine
from procedures.bpmn.diagrams import Diagram
from procedures.definitions import FAMILY_LANE
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.inbox.listing import InboxFilters, Tab, inbox
from procedures.models import Demande, DemandeStatus, Task, TaskState
from procedures.tasks import AgentActor
from stockage import FilesystemStore
from web import schema

PDF = demo_pdf("Piece justificative (banc d'essai)")  # a PDF the inspection parses
# The crèche's human tasks in order, with what the agents and the family answer.
ANSWERS: tuple[dict[str, str], ...] = (
    {},
    {"decision": "place", "motif": ""},
    {"reponse": "acceptee"},
)
CHUNK = 10_000
# The bulk rows carry their ids: move the sequences past them for later inserts.
RESET_SEQUENCES = (
    "SELECT setval('foyers_id_seq', max(id)) FROM foyers",
    "SELECT setval('demandes_id_seq', max(id)) FROM demandes",
    "SELECT setval('tasks_id_seq', max(id)) FROM tasks",
)


def no_operation(name: str, params: Any, task: Any) -> dict[str, Any]:
    return {}


# (a) SpiffWorkflow alone ----------------------------------------------------------------


# How the in-memory run keeps its state between tasks.
NEVER_SAVED, SPIFF_SAVED, SAVED = "never", "spiff", "saved"
# SpiffWorkflow's own serializer, as a project would use it out of the box.
SPIFF_SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))


def run_in_memory(diagram: Diagram, data: dict[str, Any], saving: str = NEVER_SAVED) -> int:
    """One crèche run, its state saved and restored before each task as `saving` says. The
    first saved state's size (0 when never saved)."""
    script_engine = engine.OperationScriptEngine(no_operation)
    workflow = engine.start(diagram, data, script_engine)
    size = 0
    for answers in ANSWERS:
        if saving == SAVED:
            state = engine.dump(workflow)
            workflow = engine.restore(state, script_engine)
        elif saving == SPIFF_SAVED:
            state = SPIFF_SERIALIZER.serialize_json(workflow)
            workflow = SPIFF_SERIALIZER.deserialize_json(state)
            workflow.script_engine = script_engine
        if saving != NEVER_SAVED:
            size = size or len(state.encode("utf-8"))
        [ready] = engine.ready_tasks(workflow)
        engine.complete(workflow, ready.id, answers)
    if engine.end_reached(workflow) != "End_place":
        raise SystemExit("the in-memory crèche run did not reach End_place")
    return size


def in_memory_rate(runs: int, saving: str = NEVER_SAVED) -> tuple[float, int]:
    """Runs per second, and the saved state's size at the first task (0 when never saved)."""
    definition, bpmn = catalogue.read_built_in("creche")
    diagram = catalogue.check(definition, bpmn)
    data = {"enfant": 2, "date_entree": "2027-01-04", "jours": "4", "precisions": None}
    size = run_in_memory(diagram, data | {"demande_id": 0}, saving)  # warm-up: caches, imports
    started = time.perf_counter()
    for number in range(runs):
        run_in_memory(diagram, data | {"demande_id": number + 1}, saving)
    return runs / (time.perf_counter() - started), size


# (b) through the services, persisted ----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Cast:
    ctx: EngineContext
    family: FamilyActor
    agent: AgentActor
    documents: list[int]
    child_id: int


def cast_of(session: Session, workdir: Path) -> Cast:
    """A service, the published crèche, a foyer with its papers, a family and an agent."""
    clock = SystemClock()
    service = Service(entity=Entity(slug="ville", name="Ville"), code="petite-enfance", name="PE")
    session.add(service)
    definition, bpmn = catalogue.read_built_in("creche")
    catalogue.publish(session, clock, definition, bpmn, None)
    foyer = Foyer(label="Banc d'essai", created_at=clock.now())
    foyer.members = [
        FoyerMember(role=MemberRole.ADULTE, first_name="Alex", last_name="Essai"),
        FoyerMember(role=MemberRole.ENFANT, first_name="Lou", last_name="Essai"),
    ]
    session.add(foyer)
    session.flush()
    child = foyer.members[1].id
    family = _account(session, Role.FAMILLE, "famille@bench.example", foyer_id=foyer.id)
    agent = _account(session, Role.AGENT, "agent@bench.example")
    session.commit()
    keyring = parse_keyring(f"1:{new_key_text()}", "bench")
    vault = Vault(FilesystemStore(workdir / "objects"), keyring, clock, Limits())
    papers: list[tuple[str, int | None]] = [
        ("justificatif_domicile", None),
        ("avis_imposition", None),
        ("carnet_vaccination", child),
    ]
    documents = [_deposit(vault, session, foyer.id, kind, member) for kind, member in papers]
    return Cast(
        EngineContext(clock=clock, vault=vault),  # the crèche exports to the back-office
        FamilyActor(family, foyer.id),
        AgentActor(agent, frozenset({service.id})),
        documents,
        child,
    )


def _account(session: Session, role: Role, email: str, **fields: Any) -> int:
    account = create_account(
        session, SystemClock(), email=email, password=uuid.uuid4().hex, role=role,
        display_name=email.split("@")[0], **fields,
    )  # fmt: skip
    return account.id


def _deposit(vault: Vault, session: Session, foyer_id: int, kind: str, member: int | None) -> int:
    upload = Upload(
        foyer_id=foyer_id, type_code=kind, filename="piece.pdf", stream=io.BytesIO(PDF),
        issued_on=date.today() - timedelta(days=10), member_id=member,
    )  # fmt: skip
    return vault.deposit(session, upload).id


def run_through_services(session: Session, cast: Cast) -> None:
    ctx, family, agent = cast.ctx, cast.family, cast.agent
    draft = demandes.create_draft(session, ctx, family, "creche")
    form = {"enfant": str(cast.child_id), "date_entree": "2027-01-04", "jours": "4"}
    demande = demandes.submit(session, ctx, family, draft.id, form, cast.documents)
    for answers in ANSWERS:
        task = session.scalars(
            select(Task).where(Task.demande_id == demande.id, Task.state == TaskState.OPEN)
        ).one()
        if task.for_family:
            demande = tasks.complete_for_family(session, ctx, family, task.id, answers)
        else:
            tasks.claim(session, ctx, agent, task.id)
            demande = tasks.complete(session, ctx, agent, task.id, answers)
    if demande.status is not DemandeStatus.ACCEPTEE:
        raise SystemExit(f"the service run ended {demande.status.value}, not acceptee")


@dataclasses.dataclass
class Statements:
    """SQL statements and commits sent on an engine while counting."""

    executed: int = 0
    commits: int = 0
    counting: bool = False

    def watch(self, db: Engine) -> None:
        def executed(*_: Any) -> None:
            self.executed += self.counting

        def committed(*_: Any) -> None:
            self.commits += self.counting

        sqlalchemy.event.listen(db, "before_cursor_execute", executed)
        sqlalchemy.event.listen(db, "commit", committed)


@dataclasses.dataclass(frozen=True)
class ServiceRun:
    rate: float  # demandes per second through the services, median of the rounds
    saved: float  # the saved-in-memory rate measured in turn with it, median of the rounds
    ratio: float  # median of the rounds' rate / saved
    statements: float  # SQL statements per demande (the benchmark's own task look-ups included)
    commits: float
    size: float  # mean stored `workflow_state` of a finished demande, bytes


def service_rate(url: str, args: argparse.Namespace, workdir: Path) -> ServiceRun:
    """The service layer's rate, measured in turns with the saved-in-memory run."""
    db = make_engine(url)
    schema.upgrade(db)
    counter = Statements()
    counter.watch(db)
    rates, saved_rates = [], []
    with make_session_factory(db)() as session:
        cast = cast_of(session, workdir)
        run_through_services(session, cast)  # warm-up
        for _ in range(args.rounds):
            saved_rates.append(in_memory_rate(args.memory_runs, SAVED)[0])
            counter.counting = True
            started = time.perf_counter()
            for _ in range(args.service_runs):
                run_through_services(session, cast)
            rates.append(args.service_runs / (time.perf_counter() - started))
            counter.counting = False
        size = session.scalar(select(func.avg(func.length(Demande.workflow_state))))
    db.dispose()
    runs = args.rounds * args.service_runs
    return ServiceRun(
        rate=statistics.median(rates),
        saved=statistics.median(saved_rates),
        ratio=statistics.median(r / s for r, s in zip(rates, saved_rates, strict=True)),
        statements=counter.executed / runs,
        commits=counter.commits / runs,
        size=float(size or 0),
    )


# (c) the inbox among many open demandes -------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Sizes:
    demandes: int
    procedures: int
    services: int


def seed_inbox(db: Engine, sizes: Sizes, seed: int = 20261124) -> AgentActor:
    """Services, procedures and agents through the ORM; foyers, demandes, tasks in bulk."""
    sessions = make_session_factory(db)
    now = datetime.now(UTC)
    with sessions() as session:
        services = [
            Service(entity=Entity(slug=f"e{n}", name=f"Entité {n}"), code=f"s{n}", name=f"S{n}")
            for n in range(sizes.services)
        ]
        session.add_all(services)
        session.flush()
        versions = _publish_procedures(session, [s.code for s in services], sizes.procedures)
        agents = [_account(session, Role.AGENT, f"agent{n}@bench.example") for n in range(5)]
        # The worst scope: an agent in every service but one sees ~90 % of the town's tasks.
        seen = services[:-1] if len(services) > 1 else services
        session.add_all(AgentService(account_id=agents[0], service_id=s.id) for s in seen)
        seen_ids = frozenset(s.id for s in seen)
        session.commit()
        service_of = {version: services[n % len(services)].id for n, version in enumerate(versions)}
    rng = random.Random(seed)
    with db.begin() as connection:
        foyers = max(1, sizes.demandes // 4)
        _bulk(connection, Foyer, (_foyer(n, now) for n in range(1, foyers + 1)))
        _bulk(connection, Demande, (
            _demande(n, rng.randrange(1, foyers + 1), versions[n % len(versions)], now)
            for n in range(1, sizes.demandes + 1)
        ))  # fmt: skip
        _bulk(connection, Task, (
            _task(n, rng, versions[n % len(versions)], service_of, agents, now)
            for n in range(1, sizes.demandes + 1)
        ))  # fmt: skip
    _analyze(db)
    return AgentActor(agents[0], seen_ids)


def _publish_procedures(session: Session, service_codes: list[str], count: int) -> list[int]:
    definition, bpmn = catalogue.read_built_in("creche")
    versions = []
    for n in range(count):
        code = service_codes[n % len(service_codes)]
        lanes = {lane: t if t == FAMILY_LANE else code for lane, t in definition.lanes.items()}
        renamed = dataclasses.replace(
            definition, code=f"demarche_{n:02d}", title=f"Démarche {n + 1}", lanes=lanes
        )
        versions.append(catalogue.publish(session, SystemClock(), renamed, bpmn, None).id)
    return versions


def _foyer(n: int, now: datetime) -> dict[str, Any]:
    return {"id": n, "label": f"Famille {n:06d}", "address_line": "", "postal_code": "",
            "city": "", "created_at": now}  # fmt: skip


def _demande(n: int, foyer: int, version: int, now: datetime) -> dict[str, Any]:
    return {
        "id": n, "number": f"2026-{n:06d}", "foyer_id": foyer, "procedure_version_id": version,
        "status": DemandeStatus.EN_INSTRUCTION.value, "form_data": "{}", "created_at": now,
        "updated_at": now, "submitted_at": now, "row_version": 1,
    }  # fmt: skip


def _task(
    n: int,
    rng: random.Random,
    version: int,
    service_of: dict[int, int],
    agents: list[int],
    now: datetime,
) -> dict[str, Any]:
    """Demande n's one task: mostly open, some claimed or waiting; due 1 to 21 days after."""
    created = now - timedelta(minutes=rng.randrange(0, 10 * 24 * 60))
    state, assignee, paused = TaskState.OPEN, None, None
    draw = rng.random()
    if draw < 0.10:
        state, assignee = TaskState.CLAIMED, rng.choice(agents)
    elif draw < 0.18:
        state, assignee, paused = TaskState.WAITING_FAMILY, rng.choice(agents), 3600 * 20
    due = None if rng.random() < 0.01 else created + timedelta(hours=rng.randrange(24, 500))
    return {
        "id": n, "demande_id": n, "procedure_version_id": version, "spiff_task_id":
        uuid.UUID(int=n).hex, "spec_id": "verifier_dossier", "title":
        "Vérifier la complétude du dossier", "lane": "Accueil", "service_id":
        service_of[version], "for_family": False,
        "state": state.value, "assignee_id": assignee, "created_at": created, "due_at": due,
        "paused_remaining_seconds": paused, "row_version": 1,
    }  # fmt: skip


def _bulk(connection: Any, model: Any, rows: Iterator[dict[str, Any]]) -> None:
    """executemany in chunks (psycopg 3 pipelines it; SQLite runs it in one transaction)."""
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            connection.execute(insert(model.__table__), chunk)
            chunk = []
    if chunk:
        connection.execute(insert(model.__table__), chunk)


def _analyze(db: Engine) -> None:
    with db.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if db.dialect.name == "postgresql":
            for statement in RESET_SEQUENCES:
                connection.execute(text(statement))
            connection.execute(text("VACUUM ANALYZE"))
        else:
            connection.execute(text("ANALYZE"))


Query = tuple[str, Tab, InboxFilters, Callable[[random.Random], int]]
QUERIES: list[Query] = [
    ("à traiter, page 1", "a_traiter", InboxFilters(), lambda rng: 1),
    ("à traiter, page 1 à 20", "a_traiter", InboxFilters(), lambda rng: rng.randrange(1, 21)),
    ("mes tâches, page 1", "mes_taches", InboxFilters(), lambda rng: 1),
    ("à traiter, démarche_00", "a_traiter", InboxFilters(procedure="demarche_00"), lambda r: 1),
    ("à traiter, texte « famille 00012 »", "a_traiter", InboxFilters(text="famille 00012"),
     lambda rng: 1),
    ("à traiter, rouge", "a_traiter", InboxFilters(color="rouge"), lambda rng: 1),
    ("à traiter, orange (mesuré en Python)", "a_traiter", InboxFilters(color="orange"),
     lambda rng: 1),
]  # fmt: skip


def inbox_latencies(
    sessions: sessionmaker[Session], agent: AgentActor, queries: int
) -> dict[str, float]:
    """Each query's median, by label, after printing its line."""
    rng = random.Random(7)
    medians: dict[str, float] = {}
    print(f"  {'query':<42} {'rows':>5} {'total':>7} {'median':>9} {'p95':>9}")
    for label, tab, filters, page_of in QUERIES:
        timings, result = [], None
        for attempt in range(queries + 1):
            with sessions() as session:
                started = time.perf_counter()
                result = inbox(session, agent, tab, filters, page_of(rng), now=datetime.now(UTC))
                if attempt:  # the first one warms the caches and the pool
                    timings.append(time.perf_counter() - started)
        assert result is not None
        medians[label] = statistics.median(timings)
        total = f"{result.total - 1}+" if result.more else str(result.total)
        print(
            f"  {label:<42} {len(result.rows):>5} {total:>7} "
            f"{ms(medians[label]):>9} {ms(percentile(timings, 95)):>9}"
        )
    return medians


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def percentile(values: Sequence[float], rank: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(rank / 100 * (len(ordered) - 1)))]


# Running ---------------------------------------------------------------------------------


@contextmanager
def scratch_postgres(server_url: str) -> Iterator[str]:
    """A throw-away database on the server, dropped on the way out."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"bench_engine_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def databases(backend: str, args: argparse.Namespace, workdir: Path) -> Iterator[list[str]]:
    """Two fresh databases of the backend: one for (b), one for (c)."""
    if backend == "sqlite":
        yield [f"sqlite:///{workdir / 'service.db'}", f"sqlite:///{workdir / 'inbox.db'}"]
        return
    with (
        scratch_postgres(args.postgres_url) as first,
        scratch_postgres(args.postgres_url) as second,
    ):
        yield [first, second]


def run_backend(backend: str, args: argparse.Namespace) -> list[str]:
    """Print the backend's figures; return its goal lines."""
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as directory:
        workdir = Path(directory)
        with databases(backend, args, workdir) as (service_url, inbox_url):
            print(f"\n== {backend} ==")
            run = service_rate(service_url, args, workdir)
            print(f"(b) service layer, persisted: {run.rate:8.1f} demandes/s, against "
                  f"{run.saved:.1f}/s saved in memory in turn with it ({args.rounds} rounds of "
                  f"{args.service_runs} and {args.memory_runs}, medians); "
                  f"ratio {run.ratio:.3f}")  # fmt: skip
            print(f"    {run.statements:.1f} SQL statements and {run.commits:.1f} commits a "
                  f"demande (3 of them the benchmark's own task look-ups); workflow_state "
                  f"{run.size / 1024:.1f} KiB (mean, finished demandes)")  # fmt: skip
            db = make_engine(inbox_url)
            schema.upgrade(db)
            sizes = Sizes(args.open_demandes, args.procedures, args.services)
            started = time.perf_counter()
            agent = seed_inbox(db, sizes)
            print(f"(c) inbox: {sizes.demandes} open demandes, {sizes.procedures} procedures, "
                  f"{sizes.services} services, written in {time.perf_counter() - started:.1f} s; "
                  f"{args.queries} queries each, 50 rows a page, agent in "
                  f"{len(agent.service_ids)} of {sizes.services} services")  # fmt: skip
            medians = inbox_latencies(make_session_factory(db), agent, args.queries)
            db.dispose()
    return [
        f"inbox first page median, widest scope ({backend}): {ms(medians[QUERIES[0][0]])} "
        "(goal < 20 ms)",
        f"ratio persisted/saved-in-memory ({backend}): {run.ratio:.2f} (goal >= 0.50)",
    ]


def add_postgres_url(parser: argparse.ArgumentParser) -> None:
    """--postgres-url: the server on which scratch databases are made (BENCH_POSTGRES_URL)."""
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--memory-runs", type=int, default=300)
    parser.add_argument("--service-runs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--open-demandes", type=int, default=100_000)
    parser.add_argument("--procedures", type=int, default=20)
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--queries", type=int, default=50)
    add_postgres_url(parser)
    args = parser.parse_args(argv)
    args.backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    if not set(args.backends) <= {"sqlite", "postgres"}:
        parser.error("--backends takes sqlite and/or postgres")
    for name in (
        "memory_runs",
        "service_runs",
        "rounds",
        "open_demandes",
        "procedures",
        "services",
    ):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.queries < 1:
        parser.error("--queries must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print(
        f"python {platform.python_version()}, SpiffWorkflow {SpiffWorkflow.__version__}, "
        f"SQLAlchemy {sqlalchemy.__version__}, {platform.machine()}, {os.cpu_count()} CPUs"
    )
    memory, _ = in_memory_rate(args.memory_runs)
    print(f"(a) SpiffWorkflow in memory, never saved: {memory:8.1f} demandes/s "
          f"({args.memory_runs} runs)")  # fmt: skip
    spiff, spiff_size = in_memory_rate(args.memory_runs, SPIFF_SAVED)
    print(f"    saved and restored before each task, SpiffWorkflow's serializer: {spiff:8.1f} "
          f"demandes/s; saved state at the first task {spiff_size / 1024:.1f} KiB")  # fmt: skip
    saved, size = in_memory_rate(args.memory_runs, SAVED)
    print(f"    saved and restored before each task, the project's (the state names its "
          f"diagram): {saved:8.1f} demandes/s; saved state at the first task "
          f"{size / 1024:.1f} KiB")  # fmt: skip
    goals = [line for backend in args.backends for line in run_backend(backend, args)]
    print()
    for line in sorted(goals, key=lambda line: (line.startswith("ratio"), "postgres" in line)):
        print(line)


if __name__ == "__main__":
    main()
