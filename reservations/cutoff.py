"""Until when a day of an activity can still be booked or cancelled.

The cut-off is a local wall-clock time in the town's time zone, counted per the
activity's rule: working days come from the same calendar as the procedures' deadlines
(weekends and public holidays are not working days).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from procedures.working_hours import WorkingCalendar
from reservations.models import Activity, CutoffRule


def deadline(activity: Activity, day: date, calendar: WorkingCalendar) -> datetime:
    """The last instant (UTC) at which the session of `day` can be changed by a family."""
    local = datetime.combine(_cutoff_day(activity, day, calendar), activity.cutoff_time)
    return local.replace(tzinfo=ZoneInfo(calendar.timezone)).astimezone(UTC)


def _cutoff_day(activity: Activity, day: date, calendar: WorkingCalendar) -> date:
    count = activity.cutoff_count
    if activity.cutoff_rule is CutoffRule.JOURS_OUVRES:
        found = day
        for _ in range(count):
            found -= timedelta(days=1)
            while not calendar.is_working_day(found):
                found -= timedelta(days=1)
        return found
    if activity.cutoff_rule is CutoffRule.SEMAINE_PRECEDENTE:
        monday = day - timedelta(days=day.weekday())
        return monday - timedelta(days=7) + timedelta(days=count)
    return day - timedelta(days=count)
