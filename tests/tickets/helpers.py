"""Helpers of the ticket tests: the frozen clock's times and the seeded calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from storage.seed import load_reference_data
from tickets.calendar import OfficeCalendar, build_calendar

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def vn(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """Return a Vietnamese wall-clock time as an aware UTC datetime (the frozen clock)."""
    return datetime(y, m, d, hh, mm, tzinfo=VN).astimezone(UTC)


def reference_calendar() -> OfficeCalendar:
    """Return the calendar of the seed data file, without a database."""
    data = load_reference_data()
    hours = [
        (wd, time.fromisoformat(h["opens_at"]), time.fromisoformat(h["closes_at"]))
        for h in data["office_hours"]
        for wd in h["weekdays"]
    ]
    holidays = [
        (date.fromisoformat(h["day"]), h["name_vi"], bool(h.get("is_working_day", False)))
        for h in data["holidays"]
    ]
    return build_calendar("Asia/Ho_Chi_Minh", hours, holidays)
