"""What an admin changes in the settings: departments, topics, office hours, holidays.

Plain functions like the ticket services (session first, keyword-only, flush, never commit);
each change is an audit event without a ticket, so "who changed the SLA of tax questions" has
an answer. Problems raise `AdminError` with a `reason` code the page translates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import AuditEvent, Department, Holiday, OfficeHours, Topic, User


class AdminError(ValueError):
    """A setting cannot be saved as given."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _audit(
    db: Session,
    *,
    by: User,
    now: datetime,
    action: str,
    old: str | None = None,
    new: str | None = None,
) -> None:
    db.add(
        AuditEvent(
            ticket_id=None, user_id=by.id, at=now, action=action, from_value=old, to_value=new
        )
    )


def parse_keywords(text: str) -> list[str]:
    """Return the keywords of a comma- or line-separated list, without blanks or repeats."""
    seen: dict[str, None] = {}
    for part in text.replace("\n", ",").split(","):
        word = " ".join(part.split())
        if word and word.lower() not in {k.lower() for k in seen}:
            seen[word] = None
    return list(seen)


def save_department(
    db: Session,
    *,
    department: Department | None,
    code: str,
    name_vi: str,
    name_en: str,
    email: str | None,
    phone: str | None,
    active: bool,
    by: User,
    now: datetime,
) -> Department:
    """Create a department (`department` None) or change one."""
    code = code.strip().lower()
    clash = db.scalar(select(Department.id).where(Department.code == code))
    if clash is not None and (department is None or clash != department.id):
        raise AdminError(f"department code {code} is taken", reason="code_taken")
    if department is None:
        department = Department(code=code)
        db.add(department)
        action = "settings.department.created"
    else:
        action = "settings.department.changed"
    department.code = code
    department.name_vi = name_vi.strip()
    department.name_en = name_en.strip()
    department.email = (email or "").strip() or None
    department.phone = (phone or "").strip() or None
    department.active = active
    _audit(db, by=by, now=now, action=action, new=code)
    db.flush()
    return department


def save_topic(
    db: Session,
    *,
    topic: Topic | None,
    code: str,
    digit: str | None,
    name_vi: str,
    name_en: str,
    prompt_vi: str,
    prompt_en: str,
    keywords: Sequence[str],
    department_id: int,
    sla_hours: float,
    active: bool,
    by: User,
    now: datetime,
) -> Topic:
    """Create a topic (`topic` None) or change one: keypad digit, prompt, keywords, SLA."""
    code = code.strip().lower()
    digit = (digit or "").strip() or None
    clash = db.scalar(select(Topic.id).where(Topic.code == code))
    if clash is not None and (topic is None or clash != topic.id):
        raise AdminError(f"topic code {code} is taken", reason="code_taken")
    if digit is not None:
        holder = db.scalar(select(Topic).where(Topic.digit == digit))
        if holder is not None and (topic is None or holder.id != topic.id):
            raise AdminError(f"key {digit} is used by {holder.code}", reason="digit_taken")
    if sla_hours <= 0:
        raise AdminError("the SLA must be positive", reason="sla")
    department = db.get(Department, department_id)
    if department is None:
        raise AdminError("unknown department", reason="department")
    old_sla = None
    if topic is None:
        order = db.scalar(select(func.max(Topic.sort_order))) or 0
        topic = Topic(code=code, sort_order=order + 1)
        db.add(topic)
        action = "settings.topic.created"
    else:
        old_sla = f"{topic.sla_hours:g} h"
        action = "settings.topic.changed"
    topic.code = code
    topic.digit = digit
    topic.name_vi = name_vi.strip()
    topic.name_en = name_en.strip()
    topic.prompt_vi = prompt_vi.strip()
    topic.prompt_en = prompt_en.strip()
    topic.keywords = list(keywords)
    topic.department = department
    topic.sla_hours = float(sla_hours)
    topic.active = active
    _audit(db, by=by, now=now, action=action, old=old_sla, new=f"{code}: {sla_hours:g} h")
    db.flush()
    return topic


def add_office_hours(
    db: Session, *, weekday: int, opens_at: time, closes_at: time, by: User, now: datetime
) -> OfficeHours:
    """Add an opening period on a weekday; periods of one day must not overlap."""
    if not 0 <= weekday <= 6:
        raise AdminError("weekday must be 0..6", reason="weekday")
    if opens_at >= closes_at:
        raise AdminError("closing must come after opening", reason="order")
    for other in db.scalars(select(OfficeHours).where(OfficeHours.weekday == weekday)):
        if opens_at < other.closes_at and other.opens_at < closes_at:
            raise AdminError("overlaps another period", reason="overlap")
    period = OfficeHours(weekday=weekday, opens_at=opens_at, closes_at=closes_at)
    db.add(period)
    _audit(
        db,
        by=by,
        now=now,
        action="settings.hours.added",
        new=f"{weekday} {opens_at:%H:%M}-{closes_at:%H:%M}",
    )
    db.flush()
    return period


def delete_office_hours(db: Session, *, period_id: int, by: User, now: datetime) -> None:
    """Remove an opening period; the last one stays (the SLA clock needs opening hours)."""
    period = db.get(OfficeHours, period_id)
    if period is None:
        raise AdminError("no such period", reason="missing")
    if (db.scalar(select(func.count()).select_from(OfficeHours)) or 0) <= 1:
        raise AdminError("the last opening period cannot be removed", reason="last_period")
    _audit(
        db,
        by=by,
        now=now,
        action="settings.hours.removed",
        old=f"{period.weekday} {period.opens_at:%H:%M}-{period.closes_at:%H:%M}",
    )
    db.delete(period)
    db.flush()


def add_holiday(
    db: Session,
    *,
    day: date,
    name_vi: str,
    name_en: str,
    is_working_day: bool,
    by: User,
    now: datetime,
) -> Holiday:
    """Add a public holiday (or a swapped working day)."""
    if db.scalar(select(Holiday.id).where(Holiday.day == day)) is not None:
        raise AdminError(f"{day} is in the list already", reason="day_taken")
    holiday = Holiday(
        day=day, name_vi=name_vi.strip(), name_en=name_en.strip(), is_working_day=is_working_day
    )
    db.add(holiday)
    _audit(db, by=by, now=now, action="settings.holiday.added", new=f"{day} {name_vi}")
    db.flush()
    return holiday


def delete_holiday(db: Session, *, holiday_id: int, by: User, now: datetime) -> None:
    """Remove a holiday."""
    holiday = db.get(Holiday, holiday_id)
    if holiday is None:
        raise AdminError("no such holiday", reason="missing")
    _audit(
        db,
        by=by,
        now=now,
        action="settings.holiday.removed",
        old=f"{holiday.day} {holiday.name_vi}",
    )
    db.delete(holiday)
    db.flush()
