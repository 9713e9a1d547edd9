"""Demo data for `make run`: one town, a partner body, agents and families. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from coffre.clock import Clock
from coffre.models import Foyer, FoyerMember, MemberRole
from procedures.accounts import create_account, find_account
from procedures.models import AgentService, Entity, Role, Service

# Public on purpose: printed by `make run`; seed_demo refuses to run in production.
DEMO_PASSWORD = "bellerive-demo-2026"  # noqa: S105  (printed by make run on purpose)
DOMAIN = "bellerive.example"

ENTITIES = {
    "ville": "Ville de Bellerive",
    "maisons-quartier": "Association des maisons de quartier de Bellerive",
}
SERVICES = {
    "petite-enfance": ("ville", "Petite enfance"),
    "scolaire": ("ville", "Affaires scolaires et périscolaires"),
    "accueil-mq": ("maisons-quartier", "Accueil des maisons de quartier"),
}
# e-mail local part, name, services, supervisor
AGENTS = [
    ("agent.creche", "Claire Dubois", ["petite-enfance"], False),
    ("agent.ecoles", "Karim Haddad", ["scolaire"], False),
    ("superviseur.ecoles", "Sophie Laurent", ["scolaire", "petite-enfance"], True),
    ("agent.mq", "Julien Moreau", ["accueil-mq"], False),
]
# e-mail local part, foyer label, address, adults, children (first name, birth date)
FAMILIES = [
    (
        "famille.martin",
        "Martin",
        "12 rue des Lilas",
        ["Camille", "Thomas"],
        [("Léa", date(2021, 3, 14)), ("Hugo", date(2018, 9, 2))],
    ),
    ("famille.nguyen", "Nguyen", "4 allée des Platanes", ["Linh"], [("Minh", date(2024, 11, 30))]),
    (
        "famille.benali",
        "Benali",
        "27 avenue de la Gare",
        ["Yasmine", "Mehdi"],
        [("Inès", date(2019, 5, 21)), ("Adam", date(2016, 1, 8)), ("Nour", date(2025, 6, 3))],
    ),
]


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    name: str


def seed_demo(session: Session, clock: Clock) -> list[DemoLogin]:
    """Create what is missing of the demo town and return its logins."""
    entities = {slug: _entity(session, slug, name) for slug, name in ENTITIES.items()}
    services = {
        code: _service(session, entities[slug], code, name)
        for code, (slug, name) in SERVICES.items()
    }
    logins = [_admin(session, clock)]
    logins += [_agent(session, clock, services, *agent) for agent in AGENTS]
    logins += [_family(session, clock, *family) for family in FAMILIES]
    session.commit()
    return logins


def _entity(session: Session, slug: str, name: str) -> Entity:
    entity = session.scalar(select(Entity).where(Entity.slug == slug))
    if entity is None:
        entity = Entity(slug=slug, name=name)
        session.add(entity)
        session.flush()
    return entity


def _service(session: Session, entity: Entity, code: str, name: str) -> Service:
    service = session.scalar(select(Service).where(Service.code == code))
    if service is None:
        service = Service(entity_id=entity.id, code=code, name=name)
        session.add(service)
        session.flush()
    return service


def _admin(session: Session, clock: Clock) -> DemoLogin:
    email = f"admin@{DOMAIN}"
    if find_account(session, email) is None:
        create_account(
            session,
            clock,
            email=email,
            password=DEMO_PASSWORD,
            role=Role.ADMIN,
            display_name="Administratrice de la ville",
        )
    return DemoLogin("administrateur", email, "Administratrice de la ville")


def _agent(
    session: Session,
    clock: Clock,
    services: dict[str, Service],
    local: str,
    name: str,
    codes: list[str],
    supervisor: bool,
) -> DemoLogin:
    email = f"{local}@{DOMAIN}"
    if find_account(session, email) is None:
        account = create_account(
            session,
            clock,
            email=email,
            password=DEMO_PASSWORD,
            role=Role.AGENT,
            display_name=name,
        )
        for code in codes:
            session.add(
                AgentService(
                    account_id=account.id,
                    service_id=services[code].id,
                    is_supervisor=supervisor,
                )
            )
    return DemoLogin("agent", email, name)


def _family(
    session: Session,
    clock: Clock,
    local: str,
    label: str,
    address: str,
    adults: list[str],
    children: list[tuple[str, date]],
) -> DemoLogin:
    email = f"{local}@{DOMAIN}"
    name = f"{adults[0]} {label}"
    if find_account(session, email) is None:
        foyer = Foyer(
            label=f"Famille {label}",
            address_line=address,
            postal_code="33600",
            city="Bellerive",
            created_at=clock.now(),
        )
        foyer.members = [
            FoyerMember(role=MemberRole.ADULTE, first_name=first, last_name=label)
            for first in adults
        ] + [
            FoyerMember(role=MemberRole.ENFANT, first_name=first, last_name=label, birth_date=born)
            for first, born in children
        ]
        session.add(foyer)
        session.flush()
        create_account(
            session,
            clock,
            email=email,
            password=DEMO_PASSWORD,
            role=Role.FAMILLE,
            display_name=name,
            foyer_id=foyer.id,
        )
    return DemoLogin("famille", email, name)
