"""Demo data for `make run`: one town, a partner body, agents and families. Idempotent."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import information
from accounts.credentials import create_account, find_account
from accounts.models import AgentService, Entity, Role, Service
from coffre.catalogue import document_type
from coffre.clock import Clock, local_today
from coffre.models import Document, Foyer, FoyerMember, MemberRole
from coffre.vault import Upload, Vault
from facturation import documents as invoice_documents
from facturation import run
from facturation.models import BANDS, Tariff, Unit
from procedures import demandes
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.models import Demande
from procedures.working_hours import WorkingCalendar
from reservations import activities, custody
from reservations.models import (
    Activity,
    ActivityKind,
    ActivitySession,
    AttendanceMark,
    Booking,
    BookingEvent,
    BookingState,
    Channel,
    CutoffRule,
    Enrolment,
)

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
    "sports-culture": ("ville", "Sports et culture"),  # sports school and conservatoire
    "medecine-scolaire": ("ville", "Médecine scolaire"),
    # Each school's canteen and after-school team, working on site (SCHOOL_TEAMS): a child's
    # care plan (PAI), once the school doctor validated it, is shared with its school's only.
    "equipe-lilas": ("ville", "Équipe cantine et périscolaire des Lilas"),
    "equipe-jaures": ("ville", "Équipe cantine et périscolaire Jean-Jaurès"),
}
# The town's own services run its counter (guichet.rights); the partner's does not.
COUNTER_SERVICES = frozenset({"petite-enfance", "scolaire"})
# e-mail local part, name, services, supervisor
AGENTS = [
    ("agent.creche", "Claire Dubois", ["petite-enfance"], False),
    ("agent.ecoles", "Karim Haddad", ["scolaire"], False),
    ("superviseur.ecoles", "Sophie Laurent", ["scolaire", "petite-enfance"], True),
    ("agent.mq", "Julien Moreau", ["accueil-mq"], False),
    ("agent.sports", "Nadia Girard", ["sports-culture"], False),
    ("medecin.scolaire", "Dr Anne Rivière", ["medecine-scolaire"], False),
    ("animateur.lilas", "Léo Garnier", ["equipe-lilas"], False),
    ("animateur.jaures", "Emma Faure", ["equipe-jaures"], False),
]
LILAS, JAURES = "Groupe scolaire des Lilas", "Groupe scolaire Jean-Jaurès"
SCHOOL_TEAMS = {"equipe-lilas": LILAS, "equipe-jaures": JAURES}
JADE_BORN = date(2019, 2, 11)


class DemoChild(NamedTuple):
    first_name: str
    born: date
    school: str | None = None  # the school of the foyer's sector (secteurs_scolaires.toml)
    allergies: str | None = None  # set: the child has a PAI covering them


# e-mail local part, foyer label, address, adults, children
FAMILIES = [
    (
        "famille.martin",
        "Martin",
        "12 rue des Lilas",
        ["Camille", "Thomas"],
        [
            DemoChild("Léa", date(2021, 3, 14), LILAS),
            DemoChild("Hugo", date(2018, 9, 2), LILAS, "Arachide et fruits à coque"),
        ],
    ),
    (
        "famille.nguyen",
        "Nguyen",
        "4 allée des Platanes",
        ["Linh"],
        [DemoChild("Minh", date(2024, 11, 30))],
    ),
    (
        "famille.benali",
        "Benali",
        "27 avenue de la Gare",
        ["Yasmine", "Mehdi"],
        [
            DemoChild("Inès", date(2019, 5, 21), JAURES),
            DemoChild("Adam", date(2016, 1, 8), JAURES),
            DemoChild("Nour", date(2025, 6, 3)),
        ],
    ),
    # Jade lives a week with her mother, a week with her father (garde alternée): a row in
    # each foyer, linked by the seed (_shared_custody), each home booking its own weeks.
    (
        "famille.roux",
        "Roux",
        "8 impasse des Tilleuls",
        ["Julie"],
        [DemoChild("Jade", JADE_BORN, LILAS)],
    ),
    (
        "famille.petit",
        "Petit",
        "31 rue des Lilas",
        ["Marc"],
        [DemoChild("Jade", JADE_BORN, LILAS)],
    ),
]


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    name: str


def seed_demo(
    session: Session, clock: Clock, vault: Vault | None = None, base_url: str = ""
) -> list[DemoLogin]:
    """Create what is missing of the demo town and return its logins.

    With a vault, each new family also gets a few documents deposited in it.
    """
    entities = {slug: _entity(session, slug, name) for slug, name in ENTITIES.items()}
    services = {
        code: _service(session, entities[slug], code, name)
        for code, (slug, name) in SERVICES.items()
    }
    logins = [_admin(session, clock)]
    logins += [_agent(session, clock, services, *agent) for agent in AGENTS]
    logins += [_family(session, clock, vault, *family) for family in FAMILIES]
    _activities(session, clock, services["scolaire"])
    _school_buses(session, clock, services["scolaire"])
    _shared_custody(session, clock)
    _canteen_weeks(session, clock)
    _billing_history(session, clock)
    session.commit()
    if vault is not None:  # the invoices' PDFs, as the worker would put them in the vaults
        invoice_documents.issue_documents(
            session, clock, invoice_documents.Settings(vault, base_url, announce=False)
        )
    return logins


# code, name, kind, site, cut-off (rule, count, time), capacity, weekdays, times, weeks ahead
ACTIVITIES = [
    (
        "cantine-lilas", "Cantine des Lilas", ActivityKind.CANTINE, LILAS,
        (CutoffRule.JOURS_OUVRES, 1, time(10, 0)), None, {0, 1, 3, 4},
        (time(11, 45), time(13, 30)), range(0, 8),
    ),
    (
        "cantine-jaures", "Cantine Jean-Jaurès", ActivityKind.CANTINE, JAURES,
        (CutoffRule.JOURS_OUVRES, 1, time(10, 0)), None, {0, 1, 3, 4},
        (time(11, 45), time(13, 30)), range(0, 8),
    ),
    (
        "garderie-lilas", "Accueil périscolaire du soir des Lilas", ActivityKind.PERISCOLAIRE_SOIR,
        LILAS, (CutoffRule.JOURS_OUVRES, 1, time(10, 0)), None, {0, 1, 3, 4},
        (time(16, 30), time(18, 30)), range(0, 8),
    ),
    (
        "loisirs-vacances", "Accueil de loisirs des vacances", ActivityKind.VACANCES,
        "Centre de loisirs du Parc", (CutoffRule.JOURS_CALENDAIRES, 7, time(12, 0)), 2,
        {0, 1, 2, 3, 4}, (time(8, 30), time(17, 30)), range(3, 4),
    ),
]  # fmt: skip


def _activities(session: Session, clock: Clock, service: Service) -> None:
    """The schools' canteens and a week of holiday leisure centre (two places, to show the
    waiting list), from this week on; each child of a school enrolled in its canteen and in
    the leisure centre, for the school year."""
    today = local_today(clock)
    monday = today - timedelta(days=today.weekday())
    year_end = date(today.year + (today.month >= 7), 7, 4)
    # Enrolled since the school year started: last month is invoiced (_billing_history).
    enrolled_from = min(monday, date(today.year - (today.month < 7), 9, 1))
    calendar = WorkingCalendar()
    for code, name, kind, site, cutoff, capacity, weekdays, hours, weeks in ACTIVITIES:
        if session.scalar(select(Activity).where(Activity.code == code)) is not None:
            continue
        rule, count, at = cutoff
        activity = Activity(
            service_id=service.id, code=code, name=name, kind=kind, site=site,
            cutoff_rule=rule, cutoff_count=count, cutoff_time=at, capacity=capacity,
            price_category=kind.value,
        )  # fmt: skip
        session.add(activity)
        session.flush()
        first = monday + timedelta(weeks=weeks.start)
        last = monday + timedelta(weeks=weeks.stop) - timedelta(days=1)
        timetable = activities.Timetable(first, last, frozenset(weekdays), *hours)
        activities.open_sessions(session, calendar, activity.id, timetable)
        children = session.scalars(
            select(FoyerMember).where(
                FoyerMember.role == MemberRole.ENFANT, FoyerMember.school.is_not(None)
            )
        )
        for child in children:
            if kind is ActivityKind.VACANCES or child.school == site:
                activities.enrol(session, clock, activity.id, child.id, enrolled_from, year_end)


# The school bus of each school (workflows_bpmn/transport_scolaire_lignes.toml): an accepted
# transport registration enrols the child in its school's, billed monthly by band, A to F.
BUSES = [("transport-lilas", "Transport scolaire des Lilas", LILAS),
         ("transport-jaures", "Transport scolaire Jean-Jaurès", JAURES)]  # fmt: skip
BUS_PRICES = (500, 900, 1300, 1700, 2100, 2500)  # cents a month


def _school_buses(session: Session, clock: Clock, service: Service) -> None:
    today = local_today(clock)
    season = date(today.year - (today.month < 9), 9, 1)
    for code, name, school in BUSES:
        if session.scalar(select(Activity).where(Activity.code == code)) is not None:
            continue
        bus = Activity(
            service_id=service.id, code=code, name=name, kind=ActivityKind.TRANSPORT,
            site=school, cutoff_rule=CutoffRule.JOURS_OUVRES, cutoff_count=1,
            cutoff_time=time(10, 0), capacity=None, price_category="transport",
        )  # fmt: skip
        session.add(bus)
        session.flush()
        session.add_all(
            Tariff(
                activity_id=bus.id, band=band, unit=Unit.FORFAIT_MENSUEL, price_cents=cents,
                valid_from=season, created_at=clock.now(), created_by=None,
            )
            for band, cents in zip(BANDS, BUS_PRICES, strict=True)
        )  # fmt: skip


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
        service = Service(
            entity_id=entity.id, code=code, name=name, runs_counter=code in COUNTER_SERVICES,
            school=SCHOOL_TEAMS.get(code),
        )  # fmt: skip
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
    vault: Vault | None,
    local: str,
    label: str,
    address: str,
    adults: list[str],
    children: list[DemoChild],
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
        ] + [_child(child, label) for child in children]
        session.add(foyer)
        session.flush()
        account = create_account(
            session,
            clock,
            email=email,
            password=DEMO_PASSWORD,
            role=Role.FAMILLE,
            display_name=name,
            foyer_id=foyer.id,
        )
        # The demo's families have read the information, as if they had signed up.
        information.record_acceptance(
            session, account, clock, information.in_force_identifier(session)
        )
        if vault is not None:
            _documents(session, vault, foyer)
    return DemoLogin("famille", email, name)


def _child(child: DemoChild, last_name: str) -> FoyerMember:
    return FoyerMember(
        role=MemberRole.ENFANT,
        first_name=child.first_name,
        last_name=last_name,
        birth_date=child.born,
        school=child.school,
        has_pai=child.allergies is not None,
        allergies=child.allergies,
    )


def _documents(session: Session, vault: Vault, foyer: Foyer) -> None:
    today = vault.clock.now().date()
    child = next(member for member in foyer.members if member.role is MemberRole.ENFANT)
    papers = [
        ("justificatif_domicile", "facture-electricite.pdf", None, today - timedelta(days=20)),
        ("avis_imposition", "avis-impot.pdf", None, date(today.year - 1, 8, 1)),
        ("carnet_vaccination", "vaccins.pdf", child.id, date(today.year - 1, 1, 15)),
    ]
    for type_code, filename, member_id, issued in papers:
        title = f"{document_type(type_code).label} - {foyer.label} (document de demonstration)"
        upload = Upload(
            foyer_id=foyer.id,
            type_code=type_code,
            filename=filename,
            stream=io.BytesIO(demo_pdf(title)),
            issued_on=issued,
            member_id=member_id,
        )
        vault.deposit(session, upload)


def demo_pdf(text: str) -> bytes:
    """A one-page PDF showing one line of (ASCII) text, with a correct cross-reference table."""
    safe = text.encode("ascii", "replace").replace(b"(", b"[").replace(b")", b"]")
    stream = b"BT /F1 14 Tf 60 780 Td (" + safe + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    return assemble_pdf(objects)


def assemble_pdf(objects: list[bytes], version: str = "1.4") -> bytes:
    """A PDF of `objects` (numbered from 1, the first the catalogue) with a correct
    classic cross-reference table."""
    out = bytearray(f"%PDF-{version}\n".encode())
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def _shared_custody(session: Session, clock: Clock) -> None:
    """Jade's two homes: her mother's (Roux) has her this week, her father's (Petit) next."""
    rows = {
        child.last_name: child.id
        for child in session.scalars(
            select(FoyerMember).where(
                FoyerMember.first_name == "Jade", FoyerMember.birth_date == JADE_BORN
            )
        )
    }
    if set(rows) != {"Roux", "Petit"} or custody.custody_of(session, rows["Roux"]) is not None:
        return
    today = local_today(clock)
    custody.share(session, clock, rows["Roux"], rows["Petit"], today - timedelta(today.weekday()))


def _canteen_weeks(session: Session, clock: Clock) -> None:
    """Hugo Martin eats at the canteen every day of this week and the next, booked by his
    parents before the cut-off: the days already past it can only be justified (illness)."""
    hugo = session.scalar(
        select(FoyerMember).where(
            FoyerMember.first_name == "Hugo", FoyerMember.last_name == "Martin"
        )
    )
    if hugo is None or session.scalar(select(Booking.id).where(Booking.member_id == hugo.id)):
        return
    today = local_today(clock)
    monday = today - timedelta(days=today.weekday())
    slots = session.scalars(
        select(ActivitySession)
        .join(Activity, Activity.id == ActivitySession.activity_id)
        .where(
            Activity.code == "cantine-lilas",
            ActivitySession.day.between(monday, monday + timedelta(days=11)),
        )
    )
    booked_at = clock.now() - timedelta(days=10)
    for slot in slots:
        booking = Booking(
            session_id=slot.id, foyer_id=hugo.foyer_id, member_id=hugo.id,
            state=BookingState.RESERVEE, created_at=booked_at, updated_at=booked_at,
        )  # fmt: skip
        booking.events.append(
            BookingEvent(at=booked_at, action="reservee", channel=Channel.FAMILLE)
        )
        session.add(booking)
        slot.taken += 1


# Cents per meal of the canteens, bands A to F (the town's grid since the school year began).
CANTEEN_PRICES = (65, 130, 215, 310, 395, 480)
HOLIDAY_PRICES = (300, 550, 800, 1050, 1300, 1600)  # a day of the holiday leisure centre
CARE_PRICES = (90, 150, 210, 270, 330, 400)  # an evening of after-school care


def _billing_history(session: Session, clock: Clock) -> None:
    """Last month at the canteens and the Lilas' evening care: the grids, the Martin and
    Benali children there every day (Hugo absent one day), attendance taken; then last month
    invoiced (the worker would on the 1st): each family finds its invoice on its account
    page, and the Martins, whose Léa is under six, a certificate of childcare costs once
    they have paid."""
    today = local_today(clock)
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    if first.month in (7, 8):
        return  # the summer: no canteen
    season = date(first.year - (first.month < 9), 9, 1)
    agent = find_account(session, "agent.ecoles@bellerive.example")
    assert agent is not None
    calendar = WorkingCalendar()
    for code in ("cantine-lilas", "cantine-jaures", "garderie-lilas", "loisirs-vacances"):
        activity = session.scalar(select(Activity).where(Activity.code == code))
        if activity is None or session.scalar(
            select(Tariff.id).where(Tariff.activity_id == activity.id)
        ):
            continue
        prices = {ActivityKind.VACANCES: HOLIDAY_PRICES, ActivityKind.CANTINE: CANTEEN_PRICES}.get(
            activity.kind, CARE_PRICES
        )
        session.add_all(
            Tariff(
                activity_id=activity.id, band=band, unit=Unit.JOUR, price_cents=cents,
                valid_from=season, created_at=clock.now(), created_by=None,
            )
            for band, cents in zip(BANDS, prices, strict=True)
        )  # fmt: skip
        if activity.kind is not ActivityKind.VACANCES:
            slot = session.scalar(
                select(ActivitySession).where(ActivitySession.activity_id == activity.id).limit(1)
            )
            assert slot is not None
            timetable = activities.Timetable(
                first, today.replace(day=1) - timedelta(days=1), frozenset({0, 1, 3, 4}),
                slot.starts_at, slot.ends_at,
            )  # fmt: skip
            activities.open_sessions(session, calendar, activity.id, timetable)
            _attended_month(session, clock, activity, first, agent.id)
    session.flush()
    run.emit(session, clock, first)


def _attended_month(
    session: Session, clock: Clock, activity: Activity, first: date, agent_id: int
) -> None:
    """Every enrolled child of the Martin and Benali foyers booked on each day of the month
    and marked present, except Hugo on the month's second day of canteen."""
    children = session.scalars(
        select(FoyerMember)
        .join(Enrolment, Enrolment.member_id == FoyerMember.id)
        .where(
            Enrolment.activity_id == activity.id, FoyerMember.last_name.in_(("Martin", "Benali"))
        )
    ).all()
    slots = session.scalars(
        select(ActivitySession)
        .where(
            ActivitySession.activity_id == activity.id,
            ActivitySession.day >= first,
            ActivitySession.day < (first + timedelta(days=31)).replace(day=1),
        )
        .order_by(ActivitySession.day)
    ).all()
    booked_at = datetime.combine(first - timedelta(days=7), time(9, 0), tzinfo=UTC)
    already = {
        (session_id, member_id)
        for session_id, member_id in session.execute(
            select(Booking.session_id, Booking.member_id).where(
                Booking.session_id.in_([slot.id for slot in slots])
            )
        )
    }
    for number, slot in enumerate(slots):
        for child in children:
            if (slot.id, child.id) in already:
                continue  # this week's days, booked by _canteen_weeks
            booking = Booking(
                session_id=slot.id, foyer_id=child.foyer_id, member_id=child.id,
                state=BookingState.RESERVEE, created_at=booked_at, updated_at=booked_at,
            )  # fmt: skip
            booking.events.append(
                BookingEvent(at=booked_at, action="reservee", channel=Channel.FAMILLE)
            )
            session.add(booking)
            present = not (child.first_name == "Hugo" and number == 1)
            marked = datetime.combine(slot.day, time(12, 0), tzinfo=UTC)
            session.add(
                AttendanceMark(
                    session_id=slot.id, member_id=child.id, present=present,
                    recorded_at=marked, account_id=agent_id,
                )
            )  # fmt: skip
            slot.taken += 1


def seed_demandes(session: Session, ctx: EngineContext) -> list[str]:
    """A submitted family-quotient request of the Nguyen family, its tax notice shared, for the
    school service (and the town's software, through the API) to handle.

    Idempotent: a family that already has a demande gets none. Needs the built-in procedures
    published and the vault's documents deposited. Returns the numbers of the demandes made.
    """
    account = find_account(session, "famille.nguyen@bellerive.example")
    if account is None or account.foyer_id is None:
        return []
    foyer_id = account.foyer_id
    if session.scalar(select(Demande.id).where(Demande.foyer_id == foyer_id)) is not None:
        return []
    notice = session.scalar(
        select(Document.id).where(
            Document.foyer_id == foyer_id,
            Document.type_code == "avis_imposition",
            Document.superseded_at.is_(None),
        )
    )
    if notice is None:
        return []
    actor = FamilyActor(account.id, foyer_id)
    form = {"nombre_parts": "2", "revenu_fiscal_reference": "24000"}
    draft = demandes.create_draft(session, ctx, actor, "quotient_familial")
    demande = demandes.submit(session, ctx, actor, draft.id, form, [notice])
    return [demande.number or str(demande.id)]
