"""The supervisors' numbers: calls per day, topic, department and area; callbacks within the
SLA; time to the first callback; transcription failures.

Computed in Python over one period's tickets (a month is a few thousand rows), so days are
local calendar days in the office's time zone on SQLite and PostgreSQL alike.

Definitions (also shown on the page):
- *within SLA*: the first callback (or click-to-call) started no later than the callback due
  time. Tickets whose due time has not come yet and that nobody has called are left out: they
  can still make it. Missed calls count like messages: both ask for a callback.
- *time to first callback*: wall-clock time from the call to the first callback, over the
  tickets called back; median and 90th percentile (nearest rank).
- *transcription failures*: recordings of the period whose transcription failed for good.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from storage.models import RecordingStatus, Ticket

MAX_DAYS = 366


@dataclass(frozen=True)
class Share:
    met: int
    counted: int

    @property
    def ratio(self) -> float | None:
        return self.met / self.counted if self.counted else None


@dataclass(frozen=True)
class Failure:
    ticket_number: str
    error: str


@dataclass(frozen=True)
class Report:
    date_from: date
    date_to: date
    total: int
    per_day: list[tuple[date, int]]
    per_topic: list[tuple[str, int]]
    per_department: list[tuple[str, int]]
    per_area: list[tuple[str, int]]
    within_sla: Share
    first_callback_median: timedelta | None
    first_callback_p90: timedelta | None
    called_back: int
    recordings: int
    failures: list[Failure] = field(default_factory=list)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Return the nearest-rank percentile `q` (0..100) of `values` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float | None:
    """Return the median (the mean of the middle two for an even count)."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def _counts(labels: Iterable[str]) -> list[tuple[str, int]]:
    return sorted(Counter(labels).items(), key=lambda item: (-item[1], item[0]))


def build_report(
    db: Session,
    *,
    date_from: date,
    date_to: date,
    tz: ZoneInfo,
    now: datetime,
    english: bool = False,
    unknown: str = "—",
) -> Report:
    """Return the report for the local days `date_from` to `date_to`, both included."""
    start = datetime.combine(date_from, datetime.min.time(), tz)
    end = datetime.combine(date_to + timedelta(days=1), datetime.min.time(), tz)
    tickets = db.scalars(
        select(Ticket)
        .where(Ticket.number.is_not(None), Ticket.called_at >= start, Ticket.called_at < end)
        .options(
            selectinload(Ticket.topic),
            selectinload(Ticket.department),
            selectinload(Ticket.area),
            selectinload(Ticket.recordings),
        )
        .order_by(Ticket.called_at)
    ).all()

    def name(obj: object | None) -> str:
        if obj is None:
            return unknown
        if english and getattr(obj, "name_en", None):
            return str(obj.name_en)  # type: ignore[attr-defined]
        vietnamese = getattr(obj, "name_vi", None)
        if vietnamese:
            return str(vietnamese)
        plain: object = getattr(obj, "name", unknown)
        return str(plain)

    days = Counter(t.called_at.astimezone(tz).date() for t in tickets)
    per_day = [
        (date_from + timedelta(days=i), days.get(date_from + timedelta(days=i), 0))
        for i in range((date_to - date_from).days + 1)
    ]
    met = counted = 0
    waits: list[float] = []
    for t in tickets:
        if t.first_callback_at is not None:
            waits.append((t.first_callback_at - t.called_at).total_seconds())
        if t.callback_due_at is None:
            continue
        if t.first_callback_at is not None:
            counted += 1
            met += t.first_callback_at <= t.callback_due_at
        elif t.callback_due_at <= now:
            counted += 1
    recordings = [r for t in tickets for r in t.recordings]
    failures = [
        Failure(ticket_number=t.number or "", error=r.error or "")
        for t in tickets
        for r in t.recordings
        if r.status is RecordingStatus.FAILED
    ]
    med = median(waits)
    p90 = percentile(waits, 90)
    return Report(
        date_from=date_from,
        date_to=date_to,
        total=len(tickets),
        per_day=per_day,
        per_topic=_counts(name(t.topic) for t in tickets),
        per_department=_counts(name(t.department) for t in tickets),
        per_area=_counts(name(t.area) for t in tickets),
        within_sla=Share(met=met, counted=counted),
        first_callback_median=timedelta(seconds=med) if med is not None else None,
        first_callback_p90=timedelta(seconds=p90) if p90 is not None else None,
        called_back=len(waits),
        recordings=len(recordings),
        failures=failures,
    )


def report_csv(report: Report, headers: dict[str, str]) -> str:
    """Return the report as CSV (one row per number: section, label, value), for Excel too."""
    out = io.StringIO()
    # The byte-order mark makes Excel read the Vietnamese letters as UTF-8.
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([headers["section"], headers["label"], headers["value"]])
    for day, count in report.per_day:
        writer.writerow(["calls_per_day", day.strftime("%d/%m/%Y"), count])
    for section, rows in (
        ("calls_per_topic", report.per_topic),
        ("calls_per_department", report.per_department),
        ("calls_per_area", report.per_area),
    ):
        for label, count in rows:
            writer.writerow([section, label, count])
    share = report.within_sla
    writer.writerow(["sla", "called_back_within_sla", share.met])
    writer.writerow(["sla", "counted", share.counted])
    writer.writerow(["sla", "share", f"{share.ratio:.4f}" if share.ratio is not None else ""])
    for label, value in (
        ("median_minutes", report.first_callback_median),
        ("p90_minutes", report.first_callback_p90),
    ):
        minutes = f"{value.total_seconds() / 60:.1f}" if value is not None else ""
        writer.writerow(["first_callback", label, minutes])
    writer.writerow(["first_callback", "called_back", report.called_back])
    writer.writerow(["transcription", "recordings", report.recordings])
    writer.writerow(["transcription", "failed", len(report.failures)])
    for failure in report.failures:
        writer.writerow(["transcription_failure", failure.ticket_number, failure.error])
    return out.getvalue()
