"""The bench town's people, inserted in bulk: entities, services, agents, foyers, members, accounts.

The service path is not what is measured here, so rows go in with one INSERT per batch; the
password is hashed once and the hash reused. Agents enrol their second factor through
`accounts.second_factor`, and their TOTP secrets go to a 0600 file the load test reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyotp
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from accounts import second_factor
from accounts.credentials import hash_password
from accounts.models import Account, AgentService, Entity, Role, Service
from coffre.clock import Clock
from coffre.keyring import Keyring, create_private_file
from coffre.models import Foyer, FoyerMember, MemberRole
from demo.seed import DEMO_PASSWORD

DOMAIN = "bench.example"
AGENT_SECRETS_FILE = "bench-agents.json"
ENTITIES = {
    "ville": "Ville de Bellerive",
    "maisons-quartier": "Association des maisons de quartier de Bellerive",
    "agglomeration": "Bellerive Agglomération",
}
# code -> (entity, name, agents). The first three own the built-in procedures' lanes.
SERVICES = {
    "petite-enfance": ("ville", "Petite enfance", 10),
    "scolaire": ("ville", "Affaires scolaires et périscolaires", 12),
    "accueil-mq": ("maisons-quartier", "Accueil des maisons de quartier", 6),
    "etat-civil": ("ville", "État civil", 2),
    "sports": ("ville", "Sports", 2),
    "culture": ("ville", "Culture et bibliothèques", 2),
    "urbanisme": ("ville", "Urbanisme", 2),
    "animation-mq": ("maisons-quartier", "Animation des maisons de quartier", 1),
    "transport-scolaire": ("agglomeration", "Transport scolaire", 2),
    "eau": ("agglomeration", "Eau et assainissement", 1),
}
# Streets of the built-in school catchment areas, and one outside them.
STREETS = [
    "rue des Lilas",
    "allée des Platanes",
    "impasse des Tilleuls",
    "avenue de la Gare",
    "place de la République",
    "boulevard Saint-Exupéry",
    "chemin du Moulin",
]
SURNAMES = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand"]
FIRST_NAMES = ["Camille", "Léa", "Hugo", "Inès", "Adam", "Nour", "Jade", "Louis", "Emma", "Noah"]


@dataclass(frozen=True)
class BenchAgent:
    account_id: int
    email: str
    service_code: str


def family_email(number: int) -> str:
    return f"famille.{number:06d}@{DOMAIN}"


def agent_email(service_code: str, index: int) -> str:
    return f"agent.{service_code}.{index:02d}@{DOMAIN}"


def ensure_services(session: Session) -> dict[str, int]:
    """The bench entities and services (reusing the demo's codes); their ids by code."""
    entity_ids = {}
    for slug, name in ENTITIES.items():
        entity = session.scalar(select(Entity).where(Entity.slug == slug))
        if entity is None:
            entity = Entity(slug=slug, name=name)
            session.add(entity)
            session.flush()
        entity_ids[slug] = entity.id
    ids = {}
    for code, (slug, name, _count) in SERVICES.items():
        service = session.scalar(select(Service).where(Service.code == code))
        if service is None:
            service = Service(entity_id=entity_ids[slug], code=code, name=name)
            session.add(service)
            session.flush()
        ids[code] = service.id
    session.commit()
    return ids


def ensure_agents(
    session: Session,
    clock: Clock,
    keyring: Keyring,
    service_ids: dict[str, int],
    secrets_path: Path,
    password_hash: str,
) -> list[BenchAgent]:
    """40 agents over the 10 services, each enrolled in TOTP with its secret in the file."""
    known: dict[str, str] = (
        json.loads(secrets_path.read_text(encoding="utf-8")) if secrets_path.exists() else {}
    )
    agents = []
    for code, (_slug, _name, count) in SERVICES.items():
        for index in range(1, count + 1):
            email = agent_email(code, index)
            account = session.scalar(select(Account).where(Account.email == email))
            if account is None:
                account = _new_agent(session, clock, email, password_hash, service_ids[code])
            if email not in known:
                known[email] = _enrol(session, clock, keyring, account)
            agents.append(BenchAgent(account.id, email, code))
    secrets_path.unlink(missing_ok=True)
    create_private_file(secrets_path, json.dumps(known, indent=1) + "\n")
    return agents


def agents_by_service(session: Session) -> dict[int, list[int]]:
    """The bench agents' account ids by service id (after `ensure_agents`)."""
    rows = session.execute(
        select(AgentService.service_id, Account.id)
        .join(Account, Account.id == AgentService.account_id)
        .where(Account.email.like(f"agent.%@{DOMAIN}"))
        .order_by(Account.id)
    )
    by_service: dict[int, list[int]] = {}
    for service_id, account_id in rows:
        by_service.setdefault(service_id, []).append(account_id)
    return by_service


def _new_agent(
    session: Session, clock: Clock, email: str, password_hash: str, service_id: int
) -> Account:
    account = Account(
        email=email,
        password_hash=password_hash,
        role=Role.AGENT,
        display_name=email.split("@")[0].replace(".", " ").title(),
        created_at=clock.now(),
    )
    session.add(account)
    session.flush()
    # The first agent of each service supervises it.
    supervisor = email.endswith(".01@" + DOMAIN)
    session.add(
        AgentService(account_id=account.id, service_id=service_id, is_supervisor=supervisor)
    )
    session.commit()
    return account


def _enrol(session: Session, clock: Clock, keyring: Keyring, account: Account) -> str:
    """Enrol through the real service; a previous, lost secret is replaced."""
    account.totp_secret_encrypted = account.totp_confirmed_at = account.totp_last_counter = None
    session.commit()
    enrolment = second_factor.start_enrolment(session, keyring, account.id)
    code = pyotp.TOTP(enrolment.secret).at(clock.now())
    second_factor.confirm_enrolment(session, clock, keyring, account.id, code)
    return enrolment.secret


def family_password_hash() -> str:
    """The demo password's argon2 hash, computed once for every bench account."""
    return hash_password(DEMO_PASSWORD)


def existing_families(session: Session, numbers: range) -> dict[int, int]:
    """Foyer ids of the bench families already created in this range, by number."""
    emails = {family_email(n): n for n in numbers}
    rows = session.execute(
        select(Account.email, Account.foyer_id).where(Account.email.in_(list(emails)))
    )
    return {emails[email]: foyer_id for email, foyer_id in rows if foyer_id is not None}


def insert_families(
    session: Session, clock: Clock, numbers: list[int], password_hash: str
) -> dict[int, int]:
    """Foyers, their members and one adult account each, in three INSERTs; ids by number."""
    if not numbers:
        return {}
    now = clock.now()
    foyer_rows = [_foyer_row(n, now) for n in numbers]
    foyer_ids = session.scalars(insert(Foyer).returning(Foyer.id, sort_by_parameter_order=True),
                                foyer_rows).all()  # fmt: skip
    by_number = dict(zip(numbers, foyer_ids, strict=True))
    members = [row for n, foyer_id in by_number.items() for row in _member_rows(n, foyer_id)]
    session.execute(insert(FoyerMember), members)
    accounts = [
        {
            "email": family_email(n),
            "password_hash": password_hash,
            "role": Role.FAMILLE,
            "display_name": f"{FIRST_NAMES[n % 10]} {SURNAMES[n % 8]}",
            "foyer_id": foyer_id,
            "is_active": True,
            "created_at": now,
        }
        for n, foyer_id in by_number.items()
    ]
    session.execute(insert(Account), accounts)
    session.commit()
    return by_number


def _foyer_row(number: int, now: object) -> dict[str, object]:
    return {
        "label": f"Famille {SURNAMES[number % 8]} {number:06d}",
        "address_line": f"{number % 90 + 1} {STREETS[number % len(STREETS)]}",
        "postal_code": "33600",
        "city": "Bellerive",
        "created_at": now,
    }


def _member_rows(number: int, foyer_id: int) -> list[dict[str, object]]:
    surname = SURNAMES[number % 8]
    adults = 1 + number % 2
    children = 1 + (number // 2) % 2
    rows: list[dict[str, object]] = [
        {"foyer_id": foyer_id, "role": MemberRole.ADULTE, "last_name": surname,
         "first_name": FIRST_NAMES[(number + i) % 10], "has_pai": False}
        for i in range(adults)
    ]  # fmt: skip
    for i in range(children):
        rows.append(
            {
                "foyer_id": foyer_id,
                "role": MemberRole.ENFANT,
                "first_name": FIRST_NAMES[(number + 5 + i) % 10],
                "last_name": surname,
                "birth_date": date(2015 + (number + 3 * i) % 10, 1 + number % 12, 1 + i),
                "has_pai": False,
            }
        )
    return rows
