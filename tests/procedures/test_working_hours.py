from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procedures.working_hours import WorkingCalendar, sla_color

PARIS = ZoneInfo("Europe/Paris")
CALENDAR = WorkingCalendar()
ALSACE_MOSELLE = WorkingCalendar(subdivision="57")
HOURS = timedelta(hours=1)


def paris(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A Paris wall-clock time, as the aware UTC datetime the Clock would give."""
    return datetime(year, month, day, hour, minute, tzinfo=PARIS).astimezone(UTC)


# --- 48 working hours and the French calendar -------------------------------------------


def test_48_working_hours_from_thursday_morning_cross_the_weekend() -> None:
    # Thursday 5 March 2026: 5 working days (Fri, Mon-Thu) and 3 hours.
    deadline = CALENDAR.add(paris(2026, 3, 5, 10), 48 * HOURS)

    assert deadline == paris(2026, 3, 12, 13)
    assert deadline.tzinfo is UTC


def test_easter_monday_2026_is_skipped() -> None:
    # Thursday 2 April; Friday 3 is worked in metropolitan France, Monday 6 is not.
    assert CALENDAR.add(paris(2026, 4, 2, 10), 48 * HOURS) == paris(2026, 4, 10, 13)


def test_good_friday_is_also_skipped_in_alsace_moselle() -> None:
    assert ALSACE_MOSELLE.add(paris(2026, 4, 2, 10), 48 * HOURS) == paris(2026, 4, 13, 13)


@pytest.mark.parametrize("subdivision", ["57", "67", "68", "6AE"])
def test_alsace_moselle_closes_on_good_friday_and_26_december(subdivision: str) -> None:
    calendar = WorkingCalendar(subdivision=subdivision)

    assert not calendar.is_working_day(date(2026, 4, 3))
    assert not calendar.is_working_day(date(2025, 12, 26))  # a Friday


def test_metropolitan_france_works_on_good_friday_and_26_december() -> None:
    assert CALENDAR.is_working_day(date(2026, 4, 3))
    assert CALENDAR.is_working_day(date(2025, 12, 26))


def test_14_july_2026_a_tuesday_is_skipped() -> None:
    assert CALENDAR.add(paris(2026, 7, 13, 10), 9 * HOURS) == paris(2026, 7, 15, 10)


@pytest.mark.parametrize(
    ("start", "deadline"),
    [
        pytest.param(paris(2026, 4, 30, 10), paris(2026, 5, 4, 10), id="2026-friday"),
        pytest.param(paris(2025, 4, 30, 10), paris(2025, 5, 2, 10), id="2025-thursday"),
    ],
)
def test_a_1_may_that_falls_on_a_weekday_is_skipped(start: datetime, deadline: datetime) -> None:
    assert CALENDAR.add(start, 9 * HOURS) == deadline


def test_ascension_thursday_is_skipped() -> None:
    # Ascension 2026 is Thursday 14 May.
    assert CALENDAR.add(paris(2026, 5, 13, 10), 9 * HOURS) == paris(2026, 5, 15, 10)


def test_whit_monday_is_skipped() -> None:
    # Whit Monday 2026 is 25 May.
    assert CALENDAR.add(paris(2026, 5, 22, 10), 9 * HOURS) == paris(2026, 5, 26, 10)


def test_weekends_and_holidays_are_not_working_days() -> None:
    assert CALENDAR.is_working_day(date(2026, 7, 13))
    assert not CALENDAR.is_working_day(date(2026, 7, 14))
    assert not CALENDAR.is_working_day(date(2026, 7, 18))  # Saturday
    assert not CALENDAR.is_working_day(date(2026, 7, 19))  # Sunday


# --- starts outside opening hours and the closing edge -----------------------------------


def test_a_start_on_saturday_counts_from_monday_opening() -> None:
    assert CALENDAR.add(paris(2026, 3, 7, 11), HOURS) == paris(2026, 3, 9, 9, 30)


def test_a_start_at_18h_counts_from_next_morning_opening() -> None:
    assert CALENDAR.add(paris(2026, 3, 10, 18), HOURS) == paris(2026, 3, 11, 9, 30)


def test_a_start_before_opening_counts_from_that_morning_opening() -> None:
    assert CALENDAR.add(paris(2026, 3, 10, 7), HOURS) == paris(2026, 3, 10, 9, 30)


def test_a_deadline_landing_on_closing_time_is_closing_time() -> None:
    assert CALENDAR.add(paris(2026, 3, 10, 16, 30), HOURS) == paris(2026, 3, 10, 17, 30)
    assert CALENDAR.add(paris(2026, 3, 10, 8, 30), 9 * HOURS) == paris(2026, 3, 10, 17, 30)


def test_a_start_at_closing_time_counts_from_next_opening() -> None:
    assert CALENDAR.add(paris(2026, 3, 10, 17, 30), HOURS) == paris(2026, 3, 11, 9, 30)


def test_a_zero_duration_returns_the_start_unchanged_even_outside_hours() -> None:
    saturday_night = paris(2026, 3, 7, 23)

    assert CALENDAR.add(saturday_night, timedelta(0)) == saturday_night


def test_an_aware_start_in_another_zone_gives_a_utc_deadline() -> None:
    start = datetime(2026, 3, 5, 10, tzinfo=PARIS)

    deadline = CALENDAR.add(start, HOURS)

    assert deadline == paris(2026, 3, 5, 11)
    assert deadline.tzinfo is UTC


# --- clock changes -----------------------------------------------------------------------


def test_spring_forward_weekend_keeps_opening_at_8h30_local() -> None:
    # Clocks go forward on Sunday 29 March 2026: Friday is UTC+1, Monday UTC+2.
    deadline = CALENDAR.add(paris(2026, 3, 27, 16, 30), 2 * HOURS)

    assert deadline == paris(2026, 3, 30, 9, 30)
    assert deadline == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)
    assert CALENDAR.working_time_between(paris(2026, 3, 27, 8, 30), deadline) == 10 * HOURS


def test_fall_back_weekend_keeps_opening_at_8h30_local() -> None:
    # Clocks go back on Sunday 25 October 2026: Friday is UTC+2, Monday UTC+1.
    deadline = CALENDAR.add(paris(2026, 10, 23, 16, 30), 2 * HOURS)

    assert deadline == paris(2026, 10, 26, 9, 30)
    assert deadline == datetime(2026, 10, 26, 8, 30, tzinfo=UTC)
    assert CALENDAR.working_time_between(paris(2026, 10, 23, 8, 30), deadline) == 10 * HOURS


def test_opening_hours_spanning_a_clock_change_count_real_elapsed_time() -> None:
    night_shift = WorkingCalendar(opens=time(1), closes=time(4), weekdays=frozenset(range(7)))
    spring = datetime(2026, 3, 28, 12, tzinfo=UTC)  # one window: the night of 29 March

    assert night_shift.working_time_between(spring, spring + 24 * HOURS) == 2 * HOURS
    autumn = datetime(2026, 10, 24, 12, tzinfo=UTC)
    assert night_shift.working_time_between(autumn, autumn + 24 * HOURS) == 4 * HOURS


# --- working time elapsed and working days -------------------------------------------------


def test_working_time_between_skips_a_holiday() -> None:
    elapsed = CALENDAR.working_time_between(paris(2026, 7, 13, 8, 30), paris(2026, 7, 15, 17, 30))

    assert elapsed == 18 * HOURS


def test_working_time_between_ignores_nights_and_weekends() -> None:
    elapsed = CALENDAR.working_time_between(paris(2026, 3, 6, 16), paris(2026, 3, 9, 10))

    assert elapsed == 3 * HOURS


def test_working_time_between_is_zero_when_end_is_not_after_start() -> None:
    start = paris(2026, 3, 10, 10)

    assert CALENDAR.working_time_between(start, start) == timedelta(0)
    assert CALENDAR.working_time_between(start, start - HOURS) == timedelta(0)


def test_two_working_days_from_thursday_morning_is_monday_same_time() -> None:
    assert CALENDAR.add_working_days(paris(2026, 3, 5, 10), 2) == paris(2026, 3, 9, 10)


def test_a_working_day_lasts_from_opening_to_closing() -> None:
    assert CALENDAR.working_day == 9 * HOURS
    assert WorkingCalendar(opens=time(9), closes=time(12, 15)).working_day == timedelta(
        hours=3, minutes=15
    )


def test_a_town_open_on_saturday_mornings_counts_them() -> None:
    calendar = WorkingCalendar(opens=time(9), closes=time(12), weekdays=frozenset(range(6)))

    assert calendar.add(paris(2026, 3, 6, 11), 2 * HOURS) == paris(2026, 3, 7, 10)


def test_ten_years_of_working_days_are_counted_day_by_day_and_round_trip() -> None:
    start = paris(2026, 1, 2, 9)

    deadline = CALENDAR.add_working_days(start, 2500)

    assert deadline.year in {2035, 2036}
    assert CALENDAR.working_time_between(start, deadline) == 2500 * CALENDAR.working_day


# --- SLA colours ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("elapsed", "color"),
    [
        (timedelta(0), "vert"),
        (36 * HOURS - timedelta(microseconds=1), "vert"),
        (36 * HOURS, "orange"),
        (47 * HOURS, "orange"),
        (48 * HOURS, "orange"),
        (48 * HOURS + timedelta(microseconds=1), "rouge"),
        (100 * HOURS, "rouge"),
    ],
)
def test_sla_color_is_green_below_75_percent_orange_up_to_allowed_red_past_it(
    elapsed: timedelta, color: str
) -> None:
    assert sla_color(elapsed, 48 * HOURS) == color


# --- refusals ------------------------------------------------------------------------------


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 3, 5, 10)
    aware = paris(2026, 3, 5, 10)

    with pytest.raises(ValueError, match="naive"):
        CALENDAR.add(naive, HOURS)
    with pytest.raises(ValueError, match="naive"):
        CALENDAR.add_working_days(naive, 1)
    with pytest.raises(ValueError, match="naive"):
        CALENDAR.working_time_between(naive, aware)
    with pytest.raises(ValueError, match="naive"):
        CALENDAR.working_time_between(aware, naive)


def test_negative_durations_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        CALENDAR.add(paris(2026, 3, 5, 10), -HOURS)
    with pytest.raises(ValueError, match="negative"):
        CALENDAR.add_working_days(paris(2026, 3, 5, 10), -1)
    with pytest.raises(ValueError, match="negative"):
        sla_color(HOURS, -HOURS)


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param({"opens": time(17), "closes": time(9)}, id="closes-before-opening"),
        pytest.param({"opens": time(9), "closes": time(9)}, id="closes-at-opening"),
        pytest.param({"weekdays": frozenset()}, id="no-weekday"),
        pytest.param({"weekdays": frozenset({7})}, id="weekday-out-of-range"),
        pytest.param({"subdivision": "99"}, id="unknown-subdivision"),
        pytest.param({"timezone": "Europe/Pessac"}, id="unknown-timezone"),
        pytest.param({"opens": time(8, tzinfo=UTC)}, id="aware-opening-hour"),
    ],
)
def test_an_impossible_calendar_is_refused(arguments: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        WorkingCalendar(**arguments)  # type: ignore[arg-type]


# --- properties ----------------------------------------------------------------------------

CALENDARS = st.sampled_from(
    [
        CALENDAR,
        ALSACE_MOSELLE,
        WorkingCalendar(opens=time(9), closes=time(12), weekdays=frozenset(range(6))),
        WorkingCalendar(opens=time(1), closes=time(4), weekdays=frozenset({5, 6})),
    ]
)
STARTS = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2031, 12, 31), timezones=st.just(UTC)
)
DURATIONS = st.integers(min_value=0, max_value=400 * 60).map(lambda m: timedelta(minutes=m))
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, database=None)


@PROPERTY_SETTINGS
@given(calendar=CALENDARS, start=STARTS, duration=DURATIONS)
def test_a_positive_deadline_always_falls_within_opening_hours(
    calendar: WorkingCalendar, start: datetime, duration: timedelta
) -> None:
    deadline = calendar.add(start, duration)

    if not duration:
        assert deadline == start
        return
    local = deadline.astimezone(ZoneInfo(calendar.timezone))
    assert deadline.tzinfo is UTC
    assert deadline > start
    assert calendar.is_working_day(local.date())
    assert calendar.opens < local.time() <= calendar.closes


@PROPERTY_SETTINGS
@given(calendar=CALENDARS, start=STARTS, duration=DURATIONS)
def test_working_time_up_to_a_deadline_is_the_duration_added(
    calendar: WorkingCalendar, start: datetime, duration: timedelta
) -> None:
    assert calendar.working_time_between(start, calendar.add(start, duration)) == duration


@PROPERTY_SETTINGS
@given(calendar=CALENDARS, first=STARTS, second=STARTS, third=STARTS)
def test_working_time_adds_up_over_consecutive_periods(
    calendar: WorkingCalendar, first: datetime, second: datetime, third: datetime
) -> None:
    a, b, c = sorted([first, second, third])

    assert calendar.working_time_between(a, b) + calendar.working_time_between(
        b, c
    ) == calendar.working_time_between(a, c)
