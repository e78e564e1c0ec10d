"""The SLA clock and the retry schedule on the seeded calendar, with a frozen clock.

Office hours: Monday–Friday 07:30–11:30 and 13:30–17:00 (Asia/Ho_Chi_Minh), holidays from the
seed file (Tết 2026: 16–20 February; in lieu of Giỗ Tổ: Monday 27 April 2026).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tickets.helpers import VN, reference_calendar, vn
from tickets.calendar import OfficeCalendar, build_calendar
from tickets.sla import callback_due, next_attempt

CAL = reference_calendar()
WEEKDAYS = [(wd, time(7, 30), time(11, 30)) for wd in range(5)] + [
    (wd, time(13, 30), time(17, 0)) for wd in range(5)
]


@pytest.mark.parametrize(
    ("called", "hours", "due", "why"),
    [
        (vn(2026, 12, 1, 9, 0), 4, vn(2026, 12, 1, 15, 0), "across lunch: 2.5 h + 1.5 h"),
        (vn(2026, 12, 1, 11, 0), 0.5, vn(2026, 12, 1, 11, 30), "ends at the close of the morning"),
        (vn(2026, 12, 1, 12, 15), 1, vn(2026, 12, 1, 14, 30), "called at lunch: from 13:30"),
        (vn(2026, 12, 1, 16, 0), 4, vn(2026, 12, 2, 10, 30), "evening: 1 h today, 3 h tomorrow"),
        (vn(2026, 12, 1, 19, 45), 4, vn(2026, 12, 2, 11, 30), "called at night: next opening"),
        (vn(2026, 12, 4, 15, 0), 4, vn(2026, 12, 7, 9, 30), "Friday afternoon -> Monday"),
        (vn(2026, 12, 5, 10, 0), 4, vn(2026, 12, 7, 11, 30), "Saturday call: from Monday"),
        (vn(2026, 12, 6, 23, 59), 8, vn(2026, 12, 8, 8, 0), "Sunday night, a whole day and more"),
        (vn(2026, 2, 13, 15, 0), 4, vn(2026, 2, 23, 9, 30), "Friday before Tết -> after Tết"),
        (vn(2026, 2, 17, 10, 0), 4, vn(2026, 2, 23, 11, 30), "called on Mùng 1 Tết"),
        (vn(2026, 4, 24, 16, 0), 4, vn(2026, 4, 28, 10, 30), "Friday; Monday in lieu of Giỗ Tổ"),
        (vn(2026, 4, 29, 16, 0), 2, vn(2026, 5, 4, 8, 30), "30/4 and 1/5 then the weekend"),
        (vn(2026, 12, 31, 16, 0), 4, vn(2027, 1, 4, 10, 30), "New Year's Day on a Friday"),
        (vn(2026, 12, 1, 7, 30), 0, vn(2026, 12, 1, 7, 30), "zero hours at the opening"),
    ],
)
def test_due_time(called: datetime, hours: float, due: datetime, why: str) -> None:
    assert callback_due(CAL, called, hours) == due, why


def test_due_time_is_utc_aware_and_stable_across_timezones_of_the_input() -> None:
    called_utc = vn(2026, 12, 1, 9, 0)
    called_local = called_utc.astimezone(VN)
    assert callback_due(CAL, called_utc, 4) == callback_due(CAL, called_local, 4)
    assert callback_due(CAL, called_utc, 4).tzinfo is not None


def test_a_holiday_on_a_weekend_changes_nothing_and_its_day_in_lieu_closes_the_office() -> None:
    # 2026-04-26 (10/3 âm lịch) is a Sunday: the seed has the Monday in lieu, not the Sunday.
    saturday_holiday = build_calendar(
        "Asia/Ho_Chi_Minh",
        WEEKDAYS,
        [(date(2026, 4, 25), "Ngày lễ rơi vào thứ Bảy", False)],
    )
    plain = build_calendar("Asia/Ho_Chi_Minh", WEEKDAYS)
    called = vn(2026, 4, 24, 16, 0)
    assert callback_due(saturday_holiday, called, 4) == callback_due(plain, called, 4)
    assert callback_due(plain, called, 4) == vn(2026, 4, 27, 10, 30)
    # With the seed: Monday 27 is the day in lieu, so the clock runs on Tuesday.
    assert not CAL.is_open(vn(2026, 4, 27, 9, 0))
    assert callback_due(CAL, called, 4) == vn(2026, 4, 28, 10, 30)


def test_a_swapped_saturday_works_with_mondays_hours() -> None:
    cal = build_calendar(
        "Asia/Ho_Chi_Minh",
        WEEKDAYS,
        [(date(2026, 12, 12), "Làm bù", True), (date(2026, 12, 14), "Nghỉ bù", False)],
    )
    assert callback_due(cal, vn(2026, 12, 11, 16, 0), 2) == vn(2026, 12, 12, 8, 30)


def test_next_attempt_follows_the_schedule_inside_office_hours() -> None:
    schedule = ("60", "240", "morning")
    now = vn(2026, 12, 1, 9, 0)
    assert next_attempt(CAL, now, 1, schedule) == vn(2026, 12, 1, 10, 0)
    assert next_attempt(CAL, now, 2, schedule) == vn(2026, 12, 1, 15, 0)
    assert next_attempt(CAL, now, 3, schedule) == vn(2026, 12, 2, 7, 30)
    # Past the end of the schedule its last step repeats.
    assert next_attempt(CAL, now, 7, schedule) == vn(2026, 12, 2, 7, 30)
    # An hour from 10:30 is the close of the morning: the try moves to the afternoon.
    assert next_attempt(CAL, vn(2026, 12, 1, 10, 30), 1, schedule) == vn(2026, 12, 1, 13, 30)
    # After the last call on Friday: Monday.
    assert next_attempt(CAL, vn(2026, 12, 4, 16, 30), 1, schedule) == vn(2026, 12, 7, 8, 0)
    assert next_attempt(CAL, vn(2026, 12, 4, 16, 30), 3, schedule) == vn(2026, 12, 7, 7, 30)


def test_next_working_morning_skips_tet() -> None:
    assert CAL.next_working_morning(vn(2026, 2, 13, 9, 0)) == vn(2026, 2, 23, 7, 30)


def test_a_calendar_without_hours_is_refused() -> None:
    from tickets.calendar import CalendarError

    with pytest.raises(CalendarError):
        build_calendar("Asia/Ho_Chi_Minh", [])


# --- properties -------------------------------------------------------------------------------

_moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 20), timezones=st.just(UTC)
)
_hours = st.floats(min_value=0, max_value=60, allow_nan=False, allow_infinity=False)


def _at_period_end(cal: OfficeCalendar, moment: datetime) -> bool:
    local = moment.astimezone(cal.tz)
    return any(end == local.time() for _start, end in cal.periods_on(local.date()))


@settings(max_examples=300, deadline=None)
@given(called=_moments, hours=_hours)
def test_due_time_is_in_office_hours_or_at_a_period_end_and_never_before_the_call(
    called: datetime, hours: float
) -> None:
    due = callback_due(CAL, called, hours)
    assert due >= called
    assert CAL.is_open(due) or _at_period_end(CAL, due)
    # Exactly `hours` of office time lie between the call and the due time (to the
    # microsecond: timedelta rounds float hours).
    worked = CAL.working_time_between(called, due)
    assert abs(worked - timedelta(hours=hours)) <= timedelta(microseconds=1)


@settings(max_examples=200, deadline=None)
@given(called=_moments, a=_hours, b=_hours)
def test_due_time_is_monotonic_in_hours(called: datetime, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert callback_due(CAL, called, low) <= callback_due(CAL, called, high)


@settings(max_examples=200, deadline=None)
@given(first=_moments, second=_moments, hours=_hours)
def test_due_time_is_monotonic_in_the_call_time(
    first: datetime, second: datetime, hours: float
) -> None:
    early, late = sorted((first, second))
    assert callback_due(CAL, early, hours) <= callback_due(CAL, late, hours)


@settings(max_examples=200, deadline=None)
@given(now=_moments, failures=st.integers(min_value=1, max_value=6))
def test_next_attempt_is_open_and_later(now: datetime, failures: int) -> None:
    at = next_attempt(CAL, now, failures, ("60", "240", "morning"))
    assert at > now
    assert CAL.is_open(at)
