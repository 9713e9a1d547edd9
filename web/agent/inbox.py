"""Agent pages: the task inbox, its saved filters, claiming a task, and bulk assignment."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from procedures import tasks
from procedures.deadlines.escalation import ACTIVE
from procedures.deadlines.forecast import LateTask, forecast
from procedures.errors import NotAllowed, NotByHand, TaskConflict
from procedures.inbox import saved_filters, supervision
from procedures.inbox.choices import procedure_choices, service_choices
from procedures.inbox.listing import COUNT_CAP, InboxRow
from procedures.inbox.listing import inbox as inbox_page
from procedures.tasks import AgentActor
from procedures.working_hours import SlaColor
from web.agent.blueprint import agent_actor, bp, supervised_service_ids
from web.agent.demande import completer_notice
from web.agent.inbox_query import (
    BadInboxQuery,
    Choices,
    InboxQuery,
    as_number,
    canonical,
    parse_inbox_query,
)
from web.auth.guard import role_required
from web.errors import render_error
from web.links import id_link
from web.runtime import db, runtime

PER_PAGE = 50


def _choices(agent: AgentActor) -> Choices:
    return Choices(procedure_choices(db()), service_choices(db(), agent.service_ids))


@bp.get("/taches")
@role_required(Role.AGENT)
def inbox() -> ResponseReturnValue:
    agent = agent_actor()
    choices = _choices(agent)
    try:
        asked = parse_inbox_query(request.args, choices)
    except BadInboxQuery as bad:
        return render_error(400, bad.message)
    now = runtime().clock.now()
    page = inbox_page(db(), agent, asked.tab, asked.filters, asked.page, now=now, per_page=PER_PAGE)
    supervised = supervised_service_ids()
    ahead = _forecast_late(frozenset(supervised), asked.tab, page.rows, now)
    # Only a supervisor has tasks to select and agents to assign them to.
    selectable = (
        supervision.supervised_tasks(db(), agent.account_id, [row.task_id for row in page.rows])
        if supervised
        else frozenset()
    )
    return render_template(
        "agent/inbox.html",
        asked=asked,
        page=page,
        choices=choices,
        saved=saved_filters.saved_filters(db(), agent.account_id),
        selectable=selectable,
        agents=supervision.assignable_agents(db(), supervised) if supervised else [],
        sla=SlaText(),
        claim_link=id_link("agent.claim", "task_id"),
        ahead=ahead,
    )


def _forecast_late(
    supervised: frozenset[int], tab: str, rows: list[InboxRow], now: datetime
) -> dict[int, LateTask]:
    """For a supervisor, the page's tasks of the services supervised that will pass their
    deadline at their step's recent pace (tasks being worked only)."""
    being_worked = [row.task_id for row in rows if row.state in ACTIVE]
    if not supervised or tab not in ("mes_taches", "a_traiter") or not being_worked:
        return {}
    return forecast(db(), supervised, now, shown=0, tasks=being_worked).asked


@bp.post("/taches/<int:task_id>/prendre")
@role_required(Role.AGENT)
def claim(task_id: int) -> BaseResponse:
    try:
        tasks.claim(db(), runtime().engine_context, agent_actor(), task_id)
    except TaskConflict:
        flash(_("This task has just been taken by a colleague."), "error")
    except NotByHand as exc:  # a draw's step: the notice says where it is carried out
        flash(completer_notice(exc.completer).text, "error")
    else:
        flash(_("The task is yours: you will find it under “My tasks”."), "info")
    return redirect(_back_to_inbox())


@bp.post("/taches/attribution")
@role_required(Role.AGENT)
def assign() -> BaseResponse:
    if not supervised_service_ids():
        abort(403)
    task_ids = [as_number(value) for value in request.form.getlist("taches")]
    if not task_ids:
        flash(_("Select at least one task."), "error")
        return redirect(_back_to_inbox())
    target = current_user.id if request.form.get("action") == "prendre" else None
    target = target or as_number(request.form.get("agent", ""))
    if target is None or None in task_ids:
        abort(400)
    try:
        done = supervision.assign(
            db(), runtime().engine_context, agent_actor(), [i for i in task_ids if i], target
        )
    except NotByHand as exc:
        flash(completer_notice(exc.completer).text, "error")
    except NotAllowed:
        abort(403)
    except TaskConflict:
        flash(_("A selected task has just been taken or closed: nothing was assigned."), "error")
    else:
        flash(ngettext("%(num)d task assigned.", "%(num)d tasks assigned.", len(done)), "info")
    return redirect(_back_to_inbox())


@bp.post("/taches/filtres")
@role_required(Role.AGENT)
def save_filter() -> ResponseReturnValue:
    agent = agent_actor()
    try:
        query = canonical(request.form.get("requete", ""), _choices(agent))
    except BadInboxQuery as bad:
        return render_error(400, bad.message)
    name = request.form.get("nom", "")
    try:
        saved_filters.save_filter(db(), runtime().clock, agent.account_id, name, query)
    except ValueError:
        flash(_("Give the filter a name of 1 to 80 characters."), "error")
    else:
        flash(_("Filter “%(name)s” saved.", name=" ".join(name.split())), "info")
    return redirect(_inbox_url(query))


@bp.post("/taches/filtres/<int:filter_id>/supprimer")
@role_required(Role.AGENT)
def delete_filter(filter_id: int) -> BaseResponse:
    saved_filters.delete_filter(db(), agent_actor().account_id, filter_id)
    flash(_("Saved filter deleted."), "info")
    return redirect(_back_to_inbox())


def _back_to_inbox() -> str:
    """The inbox as the agent left it: the form's `retour` query string, re-encoded."""
    pairs = parse_qsl(request.form.get("retour", ""))
    return _inbox_url(urlencode(pairs))


def _inbox_url(query: str) -> str:
    return url_for("agent.inbox") + (f"?{query}" if query else "")


SLA_BADGES = {
    "vert": "fr-badge--success",
    "orange": "fr-badge--warning",
    "rouge": "fr-badge--error",
}


class SlaText:
    """What a time-left cell says: a label and the working time, never the colour alone.

    The words are translated once, when the page starts rendering, not for each of its
    rows (up to 200): a translation lookup costs more than the rest of the cell.
    """

    def __init__(self) -> None:
        self.no_deadline = _("No deadline")
        self.late_time = _("%(hours)s late", hours="{hours}")
        self.left_time = _("%(hours)s left", hours="{hours}")
        self.labels = {"rouge": _("Late"), "orange": _("Soon late"), "vert": _("On time")}

    def __call__(self, left: timedelta | None, color: SlaColor | None) -> dict[str, str]:
        if left is None or color is None:
            return {"label": self.no_deadline, "badge": "", "time": ""}
        minutes = int(abs(left.total_seconds()) // 60)
        hours = f"{minutes // 60} h {minutes % 60:02d}"
        time = self.late_time if left < timedelta(0) else self.left_time
        return {"label": self.labels[color], "badge": SLA_BADGES[color],
                "time": time.format(hours=hours)}  # fmt: skip


@bp.app_template_global()
def tab_count(count: int) -> str:
    """A tab's counter: "1 000+" once the inbox stopped counting (`COUNT_CAP`)."""
    if count > COUNT_CAP:
        return _("%(count)s+", count=format_decimal(COUNT_CAP))
    return str(format_decimal(count))


@bp.app_template_global()
def agent_inbox_link(asked: InboxQuery, **changes: str) -> str:
    """A link to the inbox with the current filters and these changes (tab, page)."""
    return _inbox_url(asked.query_string(**changes))
