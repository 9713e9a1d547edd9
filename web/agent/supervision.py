"""Agent pages: the supervision dashboard of the services an agent supervises, and its CSV."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask import Response, abort, render_template, request
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user

from accounts.models import Role
from procedures.errors import NotAllowed
from procedures.inbox.spreadsheet import Cell, csv_text
from procedures.inbox.supervision import (
    MAX_WEEKS,
    Dashboard,
    WatchedTask,
    dashboard,
    supervised_services,
)
from web.agent.blueprint import bp
from web.agent.inbox import SlaText
from web.agent.inbox_query import as_number
from web.auth.guard import role_required
from web.runtime import db, runtime

DEFAULT_WEEKS = 8


def _dashboard(*, every_task: bool = False) -> tuple[Dashboard, dict[str, str]]:
    """The dashboard the query string asks for (`service`, `semaines`); 400 or 403 otherwise.

    `every_task`: list every late and soon-late task (the export), not the first ones."""
    values = {name: request.args.get(name, "").strip() for name in ("service", "semaines")}
    service_id = as_number(values["service"]) if values["service"] else None
    weeks = as_number(values["semaines"]) if values["semaines"] else DEFAULT_WEEKS
    if (values["service"] and service_id is None) or weeks is None or not 1 <= weeks <= MAX_WEEKS:
        abort(400)
    try:
        board = dashboard(
            db(), current_user.id, runtime().clock.now(), service_id=service_id, weeks=weeks,
            **({"shown": None} if every_task else {}),
        )  # fmt: skip
    except NotAllowed:
        abort(403)
    return board, values


@bp.get("/supervision")
@role_required(Role.AGENT)
def supervision() -> str:
    board, values = _dashboard()
    return render_template(
        "agent/supervision.html",
        board=board,
        values=values,
        all_services=supervised_services(db(), current_user.id),
        sla=SlaText(),
        hours=hours_text,
    )


@bp.get("/supervision.csv")
@role_required(Role.AGENT)
def supervision_csv() -> Response:
    board, _values = _dashboard(every_task=True)
    header = [_("Section"), _("Procedure"), _("Step"), _("Detail"), _("Value")]
    day = runtime().clock.now().date().isoformat()
    return Response(
        csv_text(header, csv_rows(board)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="supervision-{day}.csv"'},
    )


def csv_rows(board: Dashboard) -> list[list[Cell]]:
    """The dashboard's figures, one per line: counts as ints, hours as Decimals (the CSV
    writes them as numbers); names, chosen by administrators and diagrams, as text."""
    rows: list[list[Cell]] = [
        [_("Services"), "", "", "", ", ".join(s.name for s in board.services)]
    ]
    section = _("Open tasks per step")
    for step in board.steps:
        for detail, value in (
            (_("Waiting for an agent"), step.open),
            (_("Taken by an agent"), step.claimed),
            (_("Waiting for the family"), step.waiting_family),
        ):
            rows.append([section, step.procedure_title, step.step_title, detail, value])
    rows.append([_("Late tasks"), "", "", "", board.late_count])
    rows.append([_("Soon late tasks"), "", "", "", board.soon_late_count])
    rows += _watched_rows(_("Late task"), board.late)
    rows += _watched_rows(_("Soon late task"), board.soon_late)
    rows.append([_("Tasks forecast late"), "", "", "", board.forecast_count])
    rows += _watched_rows(_("Task forecast late"), [line.task for line in board.forecast])
    since = _("since %(date)s", date=format_date(board.weeks[0].monday, "d MMMM yyyy"))
    rows.append([_("Tasks completed"), "", "", since, board.processed])
    median = board.median_processing
    median_hours: Cell = hours(median) if median is not None else ""
    rows.append([_("Median processing time (working hours)"), "", "", "", median_hours])
    for week in board.weeks:
        monday = _("week of %(date)s", date=format_date(week.monday, "d MMMM yyyy"))
        rows.append([_("Requests per week"), "", "", monday, week.demandes])
    return rows


def _watched_rows(label: str, watched: list[WatchedTask]) -> list[list[Cell]]:
    """One line per late or soon-late task: its request and its working hours left."""
    return [
        [
            label,
            task.procedure_title,
            task.step_title,
            str(task.demande_number or task.demande_id),
            hours(task.left),
        ]
        for task in watched
    ]


def hours(duration: timedelta) -> Decimal:
    """Hours to a tenth: 12.5, or -1.0 for an hour past the deadline."""
    return round(Decimal(duration.total_seconds()) / 3600, 1)


def hours_text(duration: timedelta) -> str:
    """Hours with a decimal comma, as French readers write them: « 12,5 »."""
    return f"{hours(duration):.1f}".replace(".", ",")
