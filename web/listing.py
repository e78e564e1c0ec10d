"""The ticket list: filters read from a query string, and the query they make.

Shared by the list page, its live-update endpoint and the API, so the three always agree.
Bad filter values are reported back (never silently dropped): the page shows them, the API
answers 400.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from storage.models import Ticket, TicketStatus, User
from storage.search import like_pattern
from tickets import queries
from web.access import can_see, visible_to

# Statuses that still wait for someone: only these can be overdue.
WAITING = (TicketStatus.OPEN, TicketStatus.FOLLOW_UP, TicketStatus.UNREACHABLE)
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class TicketFilters:
    q: str = ""
    status: TicketStatus | None = None
    department_id: int | None = None
    topic_id: int | None = None
    area_id: int | None = None
    overdue: bool = False
    date_from: date | None = None
    date_to: date | None = None
    errors: tuple[str, ...] = field(default=(), compare=False)

    @property
    def active(self) -> bool:
        """Say whether any filter is set."""
        return self != TicketFilters()

    def as_args(self) -> dict[str, str]:
        """Return the filters as query-string arguments (for links and the live update)."""
        args: dict[str, str] = {}
        if self.q:
            args["q"] = self.q
        if self.status is not None:
            args["status"] = self.status.value
        for name in ("department_id", "topic_id", "area_id"):
            value = getattr(self, name)
            if value is not None:
                args[name.removesuffix("_id")] = str(value)
        if self.overdue:
            args["overdue"] = "1"
        if self.date_from is not None:
            args["from"] = self.date_from.strftime("%d/%m/%Y")
        if self.date_to is not None:
            args["to"] = self.date_to.strftime("%d/%m/%Y")
        return args


MIN_YEAR, MAX_YEAR = 1900, 2999


def parse_day(text: str) -> date:
    """Return the date written as yyyy-mm-dd (the date input) or dd/mm/yyyy (typed by hand)."""
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            day = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        # Year 1 or 9999 would overflow once moved to UTC or a day later: not a real date here.
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            raise ValueError(text)
        return day
    raise ValueError(text)


def parse_filters(args: Mapping[str, str]) -> TicketFilters:
    """Read the filters from query-string arguments; bad values are listed in `errors`."""
    errors: list[str] = []
    values: dict[str, Any] = {"q": (args.get("q") or "").strip()[:200]}
    status_text = (args.get("status") or "").strip()
    if status_text:
        try:
            values["status"] = TicketStatus(status_text)
        except ValueError:
            errors.append(_("Unknown status: %(v)s", v=status_text))
    for name in ("department", "topic", "area"):
        raw = (args.get(name) or "").strip()
        if raw:
            row_id = small_int(raw)
            if row_id is not None:
                values[f"{name}_id"] = row_id
            else:
                errors.append(_("Not a valid choice for %(f)s: %(v)s", f=name, v=raw))
    overdue = (args.get("overdue") or "").strip().lower()
    if overdue in ("1", "true", "yes", "on"):
        values["overdue"] = True
    elif overdue not in ("", "0", "false", "no", "off"):
        errors.append(_("Not a valid choice for %(f)s: %(v)s", f="overdue", v=overdue))
    for name, attr in (("from", "date_from"), ("to", "date_to")):
        raw = (args.get(name) or "").strip()
        if raw:
            try:
                values[attr] = parse_day(raw)
            except ValueError:
                errors.append(_("Not a date (dd/mm/yyyy): %(v)s", v=raw))
    filters = TicketFilters(**values)
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        errors.append(_("The start date is after the end date."))
    return replace(filters, errors=tuple(errors))


def local_day_start(day: date, tz: ZoneInfo) -> datetime:
    """Return the moment a local calendar day begins."""
    return datetime.combine(day, time.min, tz)


def ticket_query(
    user: User, filters: TicketFilters, *, now: datetime, tz: ZoneInfo
) -> Select[Ticket]:
    """Return the tickets `user` may see that match `filters`, newest first."""
    stmt = select(Ticket).where(Ticket.number.is_not(None), visible_to(user))
    if filters.q:
        # search_text is folded; so is the pattern: "hoan thue" finds "hoàn thuế".
        pattern = like_pattern(filters.q)
        stmt = stmt.where(
            or_(
                Ticket.search_text.like(pattern, escape="\\"),
                Ticket.number.like(pattern, escape="\\"),
            )
        )
    if filters.status is not None:
        stmt = stmt.where(Ticket.status == filters.status)
    if filters.department_id is not None:
        stmt = stmt.where(Ticket.department_id == filters.department_id)
    if filters.topic_id is not None:
        stmt = stmt.where(Ticket.topic_id == filters.topic_id)
    if filters.area_id is not None:
        stmt = stmt.where(Ticket.area_id == filters.area_id)
    if filters.overdue:
        stmt = stmt.where(overdue_clause(now))
    if filters.date_from is not None:
        stmt = stmt.where(Ticket.called_at >= local_day_start(filters.date_from, tz))
    if filters.date_to is not None:
        end = local_day_start(filters.date_to + timedelta(days=1), tz)
        stmt = stmt.where(Ticket.called_at < end)
    return stmt.order_by(Ticket.called_at.desc(), Ticket.id.desc())


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """Return a WHERE clause for tickets past their callback due time and still waiting."""
    return and_(
        Ticket.status.in_(WAITING),
        Ticket.callback_due_at.is_not(None),
        Ticket.callback_due_at < now,
    )


def is_overdue(ticket: Ticket, now: datetime) -> bool:
    """Say whether the ticket waits past its due time."""
    return (
        ticket.status in WAITING
        and ticket.callback_due_at is not None
        and ticket.callback_due_at < now
    )


@dataclass(frozen=True)
class Page:
    items: Sequence[Ticket]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def page_of(db: Session, stmt: Select[Ticket], *, page: int, per_page: int) -> Page:
    """Return one page of the query's tickets, with what a row shows loaded."""
    total = db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = db.scalars(
        stmt.options(
            selectinload(Ticket.topic),
            selectinload(Ticket.department),
            selectinload(Ticket.area),
            selectinload(Ticket.owner),
        )
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(items=rows, page=page, per_page=per_page, total=total)


# Ids and page numbers fit a 32-bit column and an SQL offset; anything longer is not one of ours.
_MAX_DIGITS = 9


def small_int(raw: str) -> int | None:
    """Return `raw` as a non-negative int if it is 1-9 ASCII digits, else None.

    `str.isdigit` also accepts "²" (which `int` refuses) and any length (which overflows the
    database's integers), so both are checked here, once.
    """
    if raw.isascii() and raw.isdigit() and len(raw) <= _MAX_DIGITS:
        return int(raw)
    return None


def parse_page(args: Mapping[str, str], *, default_per_page: int) -> tuple[int, int, list[str]]:
    """Return page, per_page and errors from `page` and `per_page` arguments."""
    errors: list[str] = []
    page, per_page = 1, default_per_page
    raw_page = (args.get("page") or "").strip()
    if raw_page:
        number = small_int(raw_page)
        if number is not None and number >= 1:
            page = number
        else:
            errors.append(_("Not a page number: %(v)s", v=raw_page))
    raw_per = (args.get("per_page") or "").strip()
    if raw_per:
        number = small_int(raw_per)
        if number is not None and 1 <= number <= MAX_PER_PAGE:
            per_page = number
        else:
            errors.append(_("per_page must be between 1 and %(n)s", n=MAX_PER_PAGE))
    return page, per_page, errors


def earlier_tickets(db: Session, user: User, ticket: Ticket, *, limit: int = 10) -> list[Ticket]:
    """Return the caller's earlier tickets that `user` may see, newest first."""
    found = queries.earlier_tickets(db, ticket, limit=limit * 3)
    return [t for t in found if can_see(user, t)][:limit]
