"""The office calendar: opening hours, public holidays, and working-time arithmetic.

The IVR asks "is the office open now, and when does it open next?"; the SLA clock asks "what
time is N working hours after this call?". Both read the same data (office_hours and holidays
tables, editable by an admin), loaded into an immutable `OfficeCalendar` so the arithmetic is
pure and easy to test with a frozen clock. All inputs and outputs are timezone-aware datetimes;
the arithmetic happens in the office's local time zone (Vietnam has no daylight saving time,
but nothing here relies on that).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Holiday, OfficeHours

# How far ahead to look for an opening before deciding the calendar has none (a misconfigured
# calendar must not loop forever): a year covers Tết plus any run of holidays.
_SEARCH_DAYS = 366


class CalendarError(ValueError):
    """The calendar has no opening hours at all."""


Period = tuple[time, time]


@dataclass(frozen=True)
class OfficeCalendar:
    tz: ZoneInfo
    # Weekday (0 = Monday) -> opening periods, sorted, not overlapping.
    hours: dict[int, tuple[Period, ...]]
    holidays: frozenset[date] = frozenset()
    # Swapped working days (usually a Saturday) that get Monday's hours.
    extra_working_days: frozenset[date] = frozenset()
    holiday_names: dict[date, str] = field(default_factory=dict)

    def periods_on(self, day: date) -> tuple[Period, ...]:
        """Return the opening periods on a local calendar day."""
        if day in self.holidays:
            return ()
        if day in self.extra_working_days:
            return self.hours.get(0, ())
        return self.hours.get(day.weekday(), ())

    def is_holiday(self, day: date) -> bool:
        """Say whether `day` is a public holiday."""
        return day in self.holidays

    def is_open(self, at: datetime) -> bool:
        """Say whether the office is open at `at`."""
        local = self._local(at)
        return any(start <= local.time() < end for start, end in self.periods_on(local.date()))

    def next_opening(self, at: datetime) -> datetime:
        """Return `at` if the office is open then, else the start of the next opening period."""
        for start, _end in self._windows_from(at):
            return start
        raise CalendarError("the office calendar has no opening hours in the coming year")

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """Return the moment `hours` of office time after `start` (counted in opening periods).

        A start outside office hours counts from the next opening. The result always lies in
        office hours or at the very end of a period (a due time of 11:30 is the close of the
        morning, not the afternoon's opening).
        """
        if hours < 0:
            raise ValueError("hours must not be negative")
        remaining = timedelta(hours=hours)
        for window_start, window_end in self._windows_from(start):
            available = window_end - window_start
            if remaining <= available:
                if remaining == timedelta(0):
                    return window_start
                return window_start + remaining
            remaining -= available
        raise CalendarError("the office calendar has no opening hours in the coming year")

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Return how much office time lies between two moments (0 if end <= start)."""
        total = timedelta(0)
        if end <= start:
            return total
        for window_start, window_end in self._windows_from(start):
            if window_start >= end:
                break
            total += min(window_end, end) - window_start
        return total

    def next_working_morning(self, at: datetime) -> datetime:
        """Return the first opening on a later working day than `at`'s local day."""
        local_day = self._local(at).date()
        for window_start, _ in self._windows_from(at):
            if self._local(window_start).date() > local_day:
                return window_start
        raise CalendarError("the office calendar has no opening hours in the coming year")

    def _local(self, at: datetime) -> datetime:
        if at.tzinfo is None:
            raise ValueError("naive datetime; pass an aware one")
        return at.astimezone(self.tz)

    def _windows_from(self, at: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Yield (start, end) of the opening windows from `at` on, the first clipped to `at`."""
        local = self._local(at)
        for offset in range(_SEARCH_DAYS):
            day = local.date() + timedelta(days=offset)
            for opens, closes in self.periods_on(day):
                start = datetime.combine(day, opens, self.tz)
                end = datetime.combine(day, closes, self.tz)
                if end <= local:
                    continue
                yield max(start, local).astimezone(UTC), end.astimezone(UTC)


def build_calendar(
    tz_name: str,
    hours: Iterable[tuple[int, time, time]],
    holidays: Iterable[tuple[date, str, bool]] = (),
) -> OfficeCalendar:
    """Return a calendar from (weekday, opens, closes) and (day, name, is_working_day) rows."""
    by_day: dict[int, list[Period]] = {}
    for weekday, opens, closes in hours:
        by_day.setdefault(weekday, []).append((opens, closes))
    if not by_day:
        raise CalendarError("no office hours configured")
    closed: set[date] = set()
    extra: set[date] = set()
    names: dict[date, str] = {}
    for day, name, is_working_day in holidays:
        (extra if is_working_day else closed).add(day)
        names[day] = name
    return OfficeCalendar(
        tz=ZoneInfo(tz_name),
        hours={wd: tuple(sorted(periods)) for wd, periods in by_day.items()},
        holidays=frozenset(closed),
        extra_working_days=frozenset(extra),
        holiday_names=names,
    )


def load_calendar(db: Session, tz_name: str) -> OfficeCalendar:
    """Return the office calendar from the database."""
    hours = [(row.weekday, row.opens_at, row.closes_at) for row in db.scalars(select(OfficeHours))]
    holidays = [(h.day, h.name_vi, h.is_working_day) for h in db.scalars(select(Holiday))]
    return build_calendar(tz_name, hours, holidays)
