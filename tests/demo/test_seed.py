from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.credentials import authenticate
from accounts.models import Account, AgentService, Entity, Role, Service
from coffre.clock import FrozenClock
from coffre.models import Document, Foyer, FoyerMember, MemberRole
from coffre.vault import Vault
from demo.seed import DEMO_PASSWORD, seed_demo
from facturation.models import Tariff, Unit
from reservations.models import Activity, ActivityKind, Enrolment, SharedCustody


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_demo_town_has_the_promised_shape(db_session: Session, clock: FrozenClock) -> None:
    logins = seed_demo(db_session, clock)

    roles = [login.role for login in logins]
    assert roles.count("administrateur") == 1
    assert roles.count("agent") == 8
    assert roles.count("famille") == 5
    assert _count(db_session, Entity) == 2
    assert _count(db_session, Service) == 7
    children = db_session.scalars(
        select(FoyerMember).where(FoyerMember.role == MemberRole.ENFANT)
    ).all()
    assert len({child.foyer_id for child in children}) == 5


def test_demo_seed_is_idempotent(db_session: Session, clock: FrozenClock) -> None:
    first = seed_demo(db_session, clock)
    counts = [_count(db_session, m) for m in (Account, Foyer, Service, AgentService)]

    second = seed_demo(db_session, clock)

    assert first == second
    assert [_count(db_session, m) for m in (Account, Foyer, Service, AgentService)] == counts


def test_every_demo_login_works(db_session: Session, clock: FrozenClock) -> None:
    roles = {}
    for login in seed_demo(db_session, clock):
        account = authenticate(db_session, clock, login.email, DEMO_PASSWORD)
        # The role make run prints is the account's real one.
        printed = {"administrateur": Role.ADMIN, "agent": Role.AGENT, "famille": Role.FAMILLE}
        assert account.role is printed[login.role]
        roles[login.email] = account.role
    assert roles["admin@bellerive.example"] is Role.ADMIN
    assert roles["agent.creche@bellerive.example"] is Role.AGENT
    assert roles["famille.martin@bellerive.example"] is Role.FAMILLE


def test_demo_families_get_readable_documents(
    db_session: Session, clock: FrozenClock, vault: Vault
) -> None:
    seed_demo(db_session, clock, vault)
    seed_demo(db_session, clock, vault)

    documents = db_session.scalars(select(Document)).all()
    assert len(documents) == 15  # three per family, not duplicated by the second run
    for document in documents:
        content = b"".join(vault.plaintext(db_session, document))
        assert content.startswith(b"%PDF-") and len(content) == document.size


def test_demo_children_go_to_school_and_one_has_a_pai(
    db_session: Session, clock: FrozenClock
) -> None:
    seed_demo(db_session, clock)
    seed_demo(db_session, clock)

    children = db_session.scalars(
        select(FoyerMember).where(FoyerMember.role == MemberRole.ENFANT)
    ).all()
    pupils = {child.first_name: child.school for child in children if child.school}
    assert pupils == {
        "Jade": "Groupe scolaire des Lilas",  # in both of her homes
        "Léa": "Groupe scolaire des Lilas",
        "Hugo": "Groupe scolaire des Lilas",
        "Inès": "Groupe scolaire Jean-Jaurès",
        "Adam": "Groupe scolaire Jean-Jaurès",
    }
    with_pai = [(child.first_name, child.allergies) for child in children if child.has_pai]
    assert with_pai == [("Hugo", "Arachide et fruits à coque")]


def test_only_the_towns_services_run_the_demo_counter(
    db_session: Session, clock: FrozenClock
) -> None:
    seed_demo(db_session, clock)

    running = db_session.execute(
        select(Entity.slug, Service.code, Service.runs_counter).join(Service)
    )

    assert sorted(running) == [
        ("maisons-quartier", "accueil-mq", False),
        ("ville", "equipe-jaures", False),
        ("ville", "equipe-lilas", False),
        ("ville", "medecine-scolaire", False),
        ("ville", "petite-enfance", True),
        ("ville", "scolaire", True),
        ("ville", "sports-culture", False),
    ]


def test_each_school_has_its_own_canteen_and_after_school_team(
    db_session: Session, clock: FrozenClock
) -> None:
    seed_demo(db_session, clock)

    teams = db_session.execute(
        select(Service.code, Service.school).where(Service.school.is_not(None))
    )

    assert sorted(teams) == [
        ("equipe-jaures", "Groupe scolaire Jean-Jaurès"),
        ("equipe-lilas", "Groupe scolaire des Lilas"),
    ]


def test_demo_town_has_canteens_a_holiday_centre_and_a_child_shared_by_two_homes(
    db_session: Session, clock: FrozenClock
) -> None:
    seed_demo(db_session, clock)
    seed_demo(db_session, clock)

    codes = db_session.scalars(select(Activity.code).order_by(Activity.code)).all()
    assert codes == [
        "cantine-jaures", "cantine-lilas", "garderie-lilas", "loisirs-vacances",
        "transport-jaures", "transport-lilas",
    ]  # fmt: skip
    bus_fees = db_session.execute(
        select(Tariff.unit, func.count())
        .join(Activity, Activity.id == Tariff.activity_id)
        .where(Activity.kind == ActivityKind.TRANSPORT)
        .group_by(Tariff.unit)
    ).all()
    assert [tuple(row) for row in bus_fees] == [(Unit.FORFAIT_MENSUEL, 12)]  # 2 buses, 6 bands
    enrolled = db_session.execute(
        select(FoyerMember.first_name, FoyerMember.last_name, Activity.code)
        .join(Enrolment, Enrolment.member_id == FoyerMember.id)
        .join(Activity, Activity.id == Enrolment.activity_id)
        .where(Activity.kind == ActivityKind.CANTINE)
        .order_by(FoyerMember.first_name, FoyerMember.last_name)
    ).all()
    assert [tuple(row) for row in enrolled] == [
        ("Adam", "Benali", "cantine-jaures"),
        ("Hugo", "Martin", "cantine-lilas"),
        ("Inès", "Benali", "cantine-jaures"),
        ("Jade", "Petit", "cantine-lilas"),
        ("Jade", "Roux", "cantine-lilas"),
        ("Léa", "Martin", "cantine-lilas"),
    ]
    shared = db_session.scalars(select(SharedCustody)).one()
    first = db_session.get(FoyerMember, shared.first_member_id)
    assert first is not None and first.last_name == "Roux"
    assert shared.first_monday.weekday() == 0
