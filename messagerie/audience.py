"""Who a targeted news item reaches: foyers chosen by criteria on the portal's own data.

- a school, and a class level: a child of the foyer whose file names that school (the
  school the household file records, which registrations to the school's activities also
  read), and whose accepted school registration (procedure `inscription_scolaire`) for the
  school year in progress or a later one names that level (its field `niveau`);
- an activity: a child enrolled in it today; a site: a child enrolled today in one of its
  activities (crèche, canteen, leisure centre...);
- documents expiring this month: a current document of the foyer valid until a day of the
  month in progress (the families the expiry notices will soon concern).

The criteria given all apply together; none at all reaches every foyer. Shredded foyers are
never reached.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.orm import Session

from accounts.models import Account, Role, Service
from coffre.models import DemandeAccess, Document, DocumentState, Foyer, FoyerMember, MemberRole
from messagerie.news_models import NewsOptOut
from procedures.catalogue import current_version, definition_of
from procedures.models import Demande, DemandeStatus, ProcedureVersion
from reservations.models import Activity, Enrolment

SCHOOL_PROCEDURE = "inscription_scolaire"
LEVEL_FIELD = "niveau"


@dataclass(frozen=True)
class Criteria:
    """What the chosen foyers have in common; an empty field does not narrow the choice."""

    school: str = ""
    level: str = ""
    activity_id: int | None = None
    site: str = ""
    expiring_documents: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class Choices:
    """What an agent may pick from: the values the data holds."""

    schools: Sequence[str]
    levels: Mapping[str, str]  # value -> French label, in the procedure's order
    activities: Mapping[int, str]  # id -> "name (site)"
    sites: Sequence[str]


@dataclass(frozen=True)
class Reach:
    """How many foyers a news item reaches, and how many adults will get it by e-mail."""

    foyers: int
    emails: int


class InvalidCriteria(Exception):
    """A criterion names a value the data does not hold (a forged form)."""


def choices(session: Session) -> Choices:
    """The schools of the children's files, the levels of the school registration, the
    activities and their sites."""
    schools = session.scalars(
        select(FoyerMember.school)
        .where(FoyerMember.role == MemberRole.ENFANT, FoyerMember.school.is_not(None))
        .where(FoyerMember.school != "")
        .distinct()
        .order_by(FoyerMember.school)
    )
    activities = session.execute(select(Activity.id, Activity.name, Activity.site))
    return Choices(
        schools=[school for school in schools if school],
        levels=_levels(session),
        activities={
            row.id: f"{row.name} ({row.site})"
            for row in sorted(activities, key=lambda row: (row.name, row.id))
        },
        sites=session.scalars(select(Activity.site).distinct().order_by(Activity.site)).all(),
    )


def _levels(session: Session) -> dict[str, str]:
    version = current_version(session, SCHOOL_PROCEDURE, required=False)
    if version is None:
        return {}
    for field in definition_of(version).fields:
        if field.name == LEVEL_FIELD:
            return {value: field.choice_labels.get(value, value) for value in field.choices}
    return {}


def check(session: Session, criteria: Criteria) -> None:
    """Refuse a criterion whose value the data does not hold (InvalidCriteria)."""
    known = choices(session)
    if criteria.school and criteria.school not in known.schools:
        raise InvalidCriteria("school")
    if criteria.level and criteria.level not in known.levels:
        raise InvalidCriteria("level")
    if criteria.activity_id is not None and criteria.activity_id not in known.activities:
        raise InvalidCriteria("activity")
    if criteria.site and criteria.site not in known.sites:
        raise InvalidCriteria("site")


def foyers(
    session: Session, today: date, criteria: Criteria, service_id: int | None = None
) -> Select[int]:
    """The ids of the foyers the criteria choose, as a query; with `service_id`, only those
    the service's entity may write to (`within_reach_of`)."""
    query = select(Foyer.id).where(Foyer.shredded_at.is_(None))
    if service_id is not None:
        query = query.where(within_reach_of(session, service_id))
    if criteria.school or criteria.level:
        query = query.where(Foyer.id.in_(_with_pupil(session, today, criteria)))
    if criteria.activity_id is not None:
        query = query.where(Foyer.id.in_(_enrolled(today, Activity.id == criteria.activity_id)))
    if criteria.site:
        query = query.where(Foyer.id.in_(_enrolled(today, Activity.site == criteria.site)))
    if criteria.expiring_documents:
        query = query.where(Foyer.id.in_(_expiring(today)))
    return query


def within_reach_of(session: Session, service_id: int) -> ColumnElement[bool]:
    """SQL condition on `Foyer`: the foyers a service's entity may send news to. The town (an
    entity with a service that runs the counter, which serves every family) writes to all; a
    partner only to the families it deals with: a demande one of its services handles or
    handled, a child enrolled in one of its activities (as counter mode's rule)."""
    entity_id = select(Service.entity_id).where(Service.id == service_id).scalar_subquery()
    town = session.scalar(
        select(func.count(Service.id)).where(
            Service.entity_id == entity_id, Service.runs_counter.is_(True)
        )
    )
    if town:
        return true()
    services = select(Service.id).where(Service.entity_id == entity_id)
    handled = select(DemandeAccess.demande_id).where(DemandeAccess.service_id.in_(services))
    enrolled = (
        select(Enrolment.foyer_id)
        .join(Activity, Activity.id == Enrolment.activity_id)
        .where(Activity.service_id.in_(services))
    )
    return or_(
        Foyer.id.in_(select(Demande.foyer_id).where(Demande.id.in_(handled))),
        Foyer.id.in_(enrolled),
    )


def reach(
    session: Session, today: date, criteria: Criteria, service_id: int | None = None
) -> Reach:
    """How many foyers the criteria choose, and how many of their adults get e-mails."""
    chosen = foyers(session, today, criteria, service_id).subquery()
    count = session.scalar(select(func.count()).select_from(chosen)) or 0
    emails = session.scalar(
        select(func.count(Account.id)).where(
            Account.foyer_id.in_(select(chosen.c.id)),
            *receives_news(),
        )
    )
    return Reach(foyers=count, emails=emails or 0)


def receives_news() -> tuple[ColumnElement[bool], ...]:
    """The conditions on an account for news to be e-mailed to it: an active family adult
    who has not opted out."""
    return (
        Account.role == Role.FAMILLE,
        Account.is_active.is_(True),
        Account.id.not_in(select(NewsOptOut.account_id)),
    )


def _with_pupil(session: Session, today: date, criteria: Criteria) -> Select[int]:
    query = select(FoyerMember.foyer_id).where(FoyerMember.role == MemberRole.ENFANT)
    if criteria.school:
        query = query.where(FoyerMember.school == criteria.school)
    if criteria.level:
        levels = levels_of_children(session, today)
        query = query.where(
            FoyerMember.id.in_(
                [child for child, level in levels.items() if level == criteria.level]
            )
        )
    return query


def levels_of_children(session: Session, today: date) -> dict[int, str]:
    """Each child's class level, from its latest accepted school registration for the school
    year in progress or a later one (the entry date it gives)."""
    rows = session.scalars(
        select(Demande.form_data)
        .join(ProcedureVersion, ProcedureVersion.id == Demande.procedure_version_id)
        .where(ProcedureVersion.code == SCHOOL_PROCEDURE)
        .where(Demande.status == DemandeStatus.ACCEPTEE)
        .order_by(Demande.closed_at, Demande.id)
    )
    year_start = school_year_start(today)
    latest: dict[int, tuple[str, str]] = {}  # child -> (entry date, level)
    for form_data in rows:
        answers: dict[str, Any] = json.loads(form_data or "{}")
        child, level, entry = (
            str(answers.get(name, "")) for name in ("enfant", LEVEL_FIELD, "date_entree")
        )
        if not (child.isdigit() and level) or entry < year_start.isoformat():
            continue
        if int(child) not in latest or entry >= latest[int(child)][0]:
            latest[int(child)] = (entry, level)
    return {child: level for child, (_entry, level) in latest.items()}


def school_year_start(today: date) -> date:
    """The 1st of September that opened the school year `today` is in."""
    return date(today.year if today.month >= 9 else today.year - 1, 9, 1)


def _enrolled(today: date, activity: ColumnElement[bool]) -> Select[int]:
    return (
        select(Enrolment.foyer_id)
        .join(Activity, Activity.id == Enrolment.activity_id)
        .where(activity, Enrolment.starts_on <= today, Enrolment.ends_on >= today)
    )


def _expiring(today: date) -> Select[int]:
    first = today.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return select(Document.foyer_id).where(
        and_(Document.valid_until >= first, Document.valid_until <= last),
        Document.superseded_at.is_(None),
        Document.state != DocumentState.REFUSE,
    )


def describe(criteria: Criteria, known: Choices) -> str:
    """The criteria as a French sentence, as the agent and the news' record read them."""
    parts = []
    if criteria.school or criteria.level:
        level = known.levels.get(criteria.level, criteria.level)
        pupil = "enfants scolarisés"
        pupil += f" à « {criteria.school} »" if criteria.school else ""
        pupil += f" en {level}" if level else ""
        parts.append(pupil)
    if criteria.activity_id is not None:
        name = known.activities.get(criteria.activity_id, str(criteria.activity_id))
        parts.append(f"enfants inscrits à « {name} »")
    if criteria.site:
        parts.append(f"enfants accueillis sur le site « {criteria.site} »")
    if criteria.expiring_documents:
        parts.append("foyers dont un justificatif expire ce mois-ci")
    if not parts:
        return "Toutes les familles"
    sentence = " ; ".join(parts)
    return sentence[0].upper() + sentence[1:]
