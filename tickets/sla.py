"""The SLA clock: when a callback is due, and when to try again after no answer.

Both count office time only (the calendar's opening periods, without weekends, the lunch break
and public holidays), so "4 hours" means four hours in which someone can actually call back.
"""

from __future__ import annotations

from datetime import datetime

from tickets.calendar import OfficeCalendar
from tickets.policy import MORNING, parse_retry_schedule


def callback_due(calendar: OfficeCalendar, called_at: datetime, hours: float) -> datetime:
    """Return the due time: `hours` of office time after the call (from the next opening)."""
    return calendar.add_working_hours(called_at, hours)


def next_attempt(
    calendar: OfficeCalendar,
    now: datetime,
    failures: int,
    schedule: tuple[str, ...],
) -> datetime:
    """Return when to try again after the `failures`-th unanswered attempt (1-based).

    Minutes count office time; past the schedule's end its last step repeats. A result at the
    very end of a period (11:30) moves to the next opening: nobody calls back at closing time.
    """
    steps = parse_retry_schedule(schedule)
    step = steps[min(max(failures, 1), len(steps)) - 1]
    if step == MORNING:
        return calendar.next_working_morning(now)
    assert isinstance(step, int)
    at = calendar.add_working_hours(now, step / 60)
    return at if calendar.is_open(at) else calendar.next_opening(at)
