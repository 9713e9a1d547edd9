"""The agent's inbox: the tasks of the agent's services, by tab, filtered, one page at a time.

Built to stay fast with a hundred thousand open tasks: every query starts from the
agent's services and the tab's states (the `ix_tasks_inbox` index), a page is chosen on
the tasks table alone, and only the page's rows are joined to their demande and measured
against their deadline. Filtering by SLA colour is the exception: "rouge" is plain SQL,
"vert" and "orange" depend on working hours, so the candidates are measured in bulk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, get_args

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    literal,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from accounts.models import Account
from coffre.models import Foyer
from procedures.deadlines.escalation import (
    STEP_TASK_COLUMNS,
    Promised,
    SlaState,
    late,
    measure_all,
    promised_of,
    sla_state,
    step_settings,
)
from procedures.definitions import TaskSettings
from procedures.models import Demande, ProcedureVersion, Task, TaskState
from procedures.tasks import AgentActor
from procedures.working_hours import SlaColor, WorkingCalendar

Tab = Literal["mes_taches", "a_traiter", "attente_famille", "terminees"]
TABS: tuple[Tab, ...] = get_args(Tab)
MAX_PER_PAGE = 200
COUNT_CAP = 1000  # a tab's counter above this shows "1 000+"
# The task states of each tab; "mes_taches" and "a_traiter" also split CLAIMED by assignee.
TAB_STATES: dict[Tab, tuple[TaskState, ...]] = {
    "mes_taches": (TaskState.CLAIMED,),
    "a_traiter": (TaskState.OPEN, TaskState.CLAIMED),
    "attente_famille": (TaskState.WAITING_FAMILY,),
    "terminees": (TaskState.DONE,),
}


@dataclass(frozen=True)
class InboxFilters:
    """What the agent narrows the tab to; every field is optional.

    `created_from` / `created_before` bound the task's arrival in the inbox (half-open).
    `text` is searched in the demande's number and the foyer's label.
    """

    procedure: str | None = None
    service_id: int | None = None
    color: SlaColor | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None
    text: str = ""


@dataclass(frozen=True)
class InboxRow:
    task_id: int
    demande_id: int
    demande_number: str | None
    procedure_title: str
    foyer_label: str
    step_title: str
    state: TaskState
    due_at: datetime | None
    left: timedelta | None  # working time; negative once late
    color: SlaColor | None
    assignee_name: str | None
    # When the family last took a document back from the demande (withdrawn or deleted).
    document_withdrawn_at: datetime | None = None
    # What completes the step instead of agents (`completed_by`): nobody takes it by hand.
    completed_by: str | None = None


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    total: int  # rows of this tab matching the filters (at least, when `more`)
    counts: dict[Tab, int]  # every tab of the agent's services, without the filters
    page: int
    per_page: int
    # The count stopped COUNT_CAP rows past this page: there are more than `total - 1`.
    more: bool = False
    pages: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pages", max(1, -(-self.total // self.per_page)))


def inbox(
    session: Session,
    agent: AgentActor,
    tab: Tab,
    filters: InboxFilters,
    page: int,
    *,
    now: datetime,
    per_page: int = 50,
    calendar: WorkingCalendar | None = None,
) -> InboxPage:
    """One page of a tab of the agent's inbox, sorted by deadline (none last), then by id.

    An agent only ever sees the tasks of the services it belongs to. Tabs: "mes_taches"
    (claimed by the agent), "a_traiter" (open, or claimed by a colleague), "attente_famille"
    (waiting on the family) and "terminees" (completed). Raises ValueError on a bad tab,
    page or size.
    """
    if tab not in TABS:
        raise ValueError(f"unknown inbox tab {tab!r}")
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError("page starts at 1; per_page is between 1 and 200")
    calendar = calendar or WorkingCalendar()
    services = _services(agent, filters)
    counts = tab_counts(session, agent)
    if not services:
        return InboxPage([], 0, counts, page, per_page)
    scope = _Scope(agent.account_id, services, tab, filters, now)
    offset = (page - 1) * per_page
    if filters.color in ("vert", "orange"):
        ids, total = _by_measured_color(session, scope, calendar, offset, per_page)
    elif filters.text.strip():
        # Searching costs more than counting: one query gives both the total and the page.
        found = list(session.scalars(_sorted(scope.select(Task.id))))
        ids, total = found[offset : offset + per_page], len(found)
    else:
        # Counted up to COUNT_CAP rows past this page: the whole town's open tasks are not
        # counted on every page of an agent who sees most of them.
        total, ids = _total_and_page(session, scope, offset, per_page)
        more = total > offset + COUNT_CAP
        return InboxPage(_rows(session, ids, now, calendar), total, counts, page, per_page, more)
    rows = _rows(session, ids, now, calendar)
    return InboxPage(rows, total, counts, page, per_page)


def tab_counts(session: Session, agent: AgentActor) -> dict[Tab, int]:
    """How many tasks each tab of the agent's services holds, counted up to a cap.

    A tab holding more than COUNT_CAP tasks counts COUNT_CAP + 1 ("1 000+" on the page):
    the completed tasks grow with the town for ever, and no agent needs their exact number
    on every page. Each count reads at most COUNT_CAP + 1 entries of the inbox index,
    whatever the size of the town; the four go in one statement.
    """
    if not agent.service_ids:
        return dict.fromkeys(TABS, 0)
    query = _counts_statement(tuple(sorted(agent.service_ids)))
    row = session.execute(query, {"account_id": agent.account_id}).one()
    return dict(zip(TABS, (int(count) for count in row), strict=True))


@lru_cache(maxsize=512)
def _counts_statement(services: tuple[int, ...]) -> Select[Any]:
    """The four capped counts, built once per set of services (the agent bound when run)."""
    account: BindParameter[int] = bindparam("account_id")
    counts = [_capped_count(_tab_condition(tab, account), services) for tab in TABS]
    return select(*counts)


def _capped_count(condition: ColumnElement[bool], services: tuple[int, ...]) -> Any:
    bounded = (
        select(Task.id)
        .where(Task.service_id.in_(services), condition)
        .limit(COUNT_CAP + 1)
        .subquery()
    )
    return select(func.count()).select_from(bounded).scalar_subquery()


def _tab_condition(tab: Tab, account_id: int | BindParameter[int]) -> ColumnElement[bool]:
    in_tab = Task.state.in_(TAB_STATES[tab])
    if tab == "mes_taches":
        return and_(in_tab, Task.assignee_id == account_id)
    if tab == "a_traiter":
        return and_(in_tab, or_(Task.assignee_id.is_(None), Task.assignee_id != account_id))
    return in_tab


def _services(agent: AgentActor, filters: InboxFilters) -> frozenset[int]:
    if filters.service_id is None:
        return agent.service_ids
    return agent.service_ids & {filters.service_id}


@dataclass(frozen=True)
class _Scope:
    """The tab's tasks in the agent's services, with the filters; joins only those needed."""

    account_id: int
    services: frozenset[int]
    tab: Tab
    filters: InboxFilters
    now: datetime

    def select(self, *columns: Any, with_demande: bool = False) -> Select[Any]:
        filters = self.filters
        query = select(*columns).where(Task.service_id.in_(self.services), self._tab())
        if with_demande or filters.procedure:
            query = query.join(Demande, Demande.id == Task.demande_id)
        if filters.procedure:
            query = query.join(
                ProcedureVersion, ProcedureVersion.id == Demande.procedure_version_id
            ).where(ProcedureVersion.code == filters.procedure)
        if filters.text.strip():
            query = query.where(Task.id.in_(self._searched(filters.text.strip())))
        if filters.created_from is not None:
            query = query.where(Task.created_at >= filters.created_from)
        if filters.created_before is not None:
            query = query.where(Task.created_at < filters.created_before)
        if filters.color == "rouge":
            query = query.where(late(self.now))
        elif filters.color is not None:
            query = query.where(Task.due_at.is_not(None), not_(late(self.now)))
        return query

    def _searched(self, text: str) -> Select[Any]:
        """The tab's tasks whose demande number or foyer label contains the text.

        The tab's tasks are gathered first (materialized), then searched: left to itself,
        PostgreSQL guesses the text rare and scans every demande and foyer instead.
        """
        scoped = (
            select(Task.id, Demande.number, Foyer.label)
            .join(Demande, Demande.id == Task.demande_id)
            .join(Foyer, Foyer.id == Demande.foyer_id)
            .where(Task.service_id.in_(self.services), self._tab())
            .cte("scoped")
            .prefix_with("MATERIALIZED")
        )
        # The database lowers both sides, so that both fold case the same way.
        escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
        pattern = func.lower(literal(f"%{escaped}%"))
        return select(scoped.c.id).where(
            or_(
                func.lower(scoped.c.number).like(pattern, escape="/"),
                func.lower(scoped.c.label).like(pattern, escape="/"),
            )
        )

    def _tab(self) -> ColumnElement[bool]:
        return _tab_condition(self.tab, self.account_id)


def _sorted(query: Select[Any]) -> Select[Any]:
    return query.order_by(Task.due_at.asc().nulls_last(), Task.id)


def _total_and_page(
    session: Session, scope: _Scope, offset: int, limit: int
) -> tuple[int, list[int]]:
    """The tab's total (counted up to COUNT_CAP past the page) and the page's ids.

    Without filters (the service filter aside), both statements are built once per
    (services, tab) and the agent, the page and the window bound when run: building the
    union of one index range per (service, state) costs more than the database runs it.
    """
    values = {"account_id": scope.account_id, "window": offset + limit, "offset": offset,
              "limit": limit, "cap": offset + COUNT_CAP + 1}  # fmt: skip
    if scope.filters == InboxFilters(service_id=scope.filters.service_id):
        total_query, page_query = _plain_statements(tuple(sorted(scope.services)), scope.tab)
        total = session.scalar(total_query, values) or 0
        return total, list(session.scalars(page_query, values))
    bounded = scope.select(Task.id).limit(values["cap"]).subquery()
    total = session.scalar(select(func.count()).select_from(bounded)) or 0
    return total, _page_ids(session, scope, offset, limit)


@lru_cache(maxsize=512)
def _plain_statements(services: tuple[int, ...], tab: Tab) -> tuple[Select[Any], Select[Any]]:
    """The capped total and the page ids of an unfiltered tab, with parameters bound later:
    `account_id`, `cap`, `window` (offset + limit), `offset`, `limit`."""
    in_tab = and_(Task.service_id.in_(services), _tab_condition(tab, bindparam("account_id")))
    bounded = select(Task.id).where(in_tab).limit(bindparam("cap")).subquery()
    total: Select[Any] = select(func.count()).select_from(bounded)
    columns: tuple[Any, ...] = (Task.id, Task.due_at)
    ranges = select(*columns).where(in_tab)
    branches = [
        _sorted(ranges.where(Task.service_id == service_id, Task.state == state))
        .limit(bindparam("window"))
        .subquery()
        for service_id in services
        for state in TAB_STATES[tab]
    ]
    return total, _merged(branches).offset(bindparam("offset")).limit(bindparam("limit"))


def _merged(branches: list[Any]) -> Select[Any]:
    """The ids of the branches (each in deadline order), merged in deadline order."""
    parts = [select(branch.c.id, branch.c.due_at) for branch in branches]
    merged = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    return select(merged.c.id).order_by(merged.c.due_at.asc().nulls_last(), merged.c.id)


def _page_ids(session: Session, scope: _Scope, offset: int, limit: int) -> list[int]:
    """The page's task ids, in deadline order, reading no more of the tab than it needs.

    Sorting the whole tab for one page grows with the town (tens of thousands of open tasks
    in a busy service). Each (service, state) of the tab is instead one range of the
    `ix_tasks_inbox` index, already in (due_at, id) order: the first offset + limit of each
    are read, then merged. The page is the same as sorting everything.
    """
    branches = [
        _sorted(
            scope.select(Task.id, Task.due_at).where(
                Task.service_id == service_id, Task.state == state
            )
        )
        .limit(offset + limit)
        .subquery()
        for service_id in sorted(scope.services)
        for state in TAB_STATES[scope.tab]
    ]
    return list(session.scalars(_merged(branches).offset(offset).limit(limit)))


def _by_measured_color(
    session: Session, scope: _Scope, calendar: WorkingCalendar, offset: int, limit: int
) -> tuple[list[int], int]:
    """The page's ids and the total among the candidates whose colour is the one asked."""
    query = scope.select(*STEP_TASK_COLUMNS, with_demande=True)
    candidates = session.execute(_sorted(query)).all()
    states = measure_all(session, candidates, scope.now, calendar)
    matching = [row.id for row in candidates if _color(states[row.id]) == scope.filters.color]
    return matching[offset : offset + limit], len(matching)


def _color(state: SlaState | None) -> SlaColor | None:
    return state.color if state else None


def _rows(
    session: Session, ids: Sequence[int], now: datetime, calendar: WorkingCalendar
) -> list[InboxRow]:
    """The page's tasks with their demande, procedure, foyer and assignee, in `ids` order."""
    if not ids:
        return []
    query = (
        select(
            *STEP_TASK_COLUMNS,
            Task.demande_id,
            Task.title,
            Demande.number,
            ProcedureVersion.title.label("procedure_title"),
            Foyer.label.label("foyer_label"),
            Account.display_name,
            Demande.document_withdrawn_at,
        )
        .join(Demande, Demande.id == Task.demande_id)
        .join(ProcedureVersion, ProcedureVersion.id == Demande.procedure_version_id)
        .join(Foyer, Foyer.id == Demande.foyer_id)
        .outerjoin(Account, Account.id == Task.assignee_id)
        .where(Task.id.in_(ids))
    )
    found = {row.id: row for row in session.execute(query)}
    settings = step_settings(session, found.values())
    promised = promised_of(settings)
    return [_row(found[task_id], now, calendar, promised, settings) for task_id in ids]


def _row(
    row: Any,
    now: datetime,
    calendar: WorkingCalendar,
    promised: Promised,
    settings: dict[tuple[int, str], TaskSettings],
) -> InboxRow:
    step = row.procedure_version_id, row.spec_id
    sla = sla_state(row, now, calendar, promised[step])
    return InboxRow(
        task_id=row.id,
        demande_id=row.demande_id,
        demande_number=row.number,
        procedure_title=row.procedure_title,
        foyer_label=row.foyer_label,
        step_title=row.title,
        state=row.state,
        due_at=row.due_at,
        left=sla.left if sla else None,
        color=sla.color if sla else None,
        assignee_name=row.display_name,
        document_withdrawn_at=row.document_withdrawn_at,
        completed_by=settings[step].completed_by,
    )
