"""The reminder poll: find the work that is due and queue each reminder once.

Indico's way: one periodic job asks "what is due and not yet reminded?" instead of one timer per
ticket, so a restart, a lost message or a changed due time never loses or duplicates a
reminder. A ticket's *due time* is its next attempt time when one is set (after no answer),
else its callback due time; a reminder's key includes that due time, so rescheduling starts a
fresh round. Kinds and recipients:

- new ticket: the department's members (pool tickets only; once per department it is sent to);
- due in `due_soon_minutes`: the owner, or the department's members when nobody owns it;
- overdue: the owner (or the members) and the supervisors;
- escalation, `escalate_after_minutes` after the due time: the supervisors.

Only open tickets get reminders: a follow-up ticket's caller has been reached, a resolved one is
done, an unreachable one is with a supervisor already.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from storage.models import CallbackAttempt, Notification, Ticket, TicketStatus, User
from tickets.notify import queue_notification
from tickets.policy import Kind, TicketPolicy
from tickets.queries import department_members, supervisors_for


def due_at(ticket: Ticket) -> datetime | None:
    """Return when the ticket's next callback is due (next attempt, else the SLA due time)."""
    return ticket.next_attempt_at or ticket.callback_due_at


@dataclass
class ReminderCounts:
    """How many notification rows each kind added in one poll (all channels together)."""

    added: dict[str, int] = field(default_factory=dict)
    # True when the poll stopped at its limit of tickets and another round has work.
    more: bool = False

    def add(self, kind: str, n: int) -> None:
        if n:
            self.added[kind] = self.added.get(kind, 0) + n

    @property
    def total(self) -> int:
        return sum(self.added.values())


def new_ticket_key(department_id: int) -> str:
    """Return the key of the "new ticket" notice: one per department the ticket is sent to.

    It is tied to no due time; keying it on the department tells a department a ticket was
    moved to, without telling the first one twice.
    """
    return f"department:{department_id}"


class _People:
    """Recipients looked up once per poll, not once per ticket."""

    def __init__(self, db: Session) -> None:
        self.db = db
        self._members: dict[int, Sequence[User]] = {}
        self._supervisors: dict[int | None, Sequence[User]] = {}

    def members(self, department_id: int | None) -> Sequence[User]:
        if department_id is None:
            return []
        if department_id not in self._members:
            self._members[department_id] = department_members(self.db, department_id)
        return self._members[department_id]

    def supervisors(self, department_id: int | None) -> Sequence[User]:
        if department_id not in self._supervisors:
            self._supervisors[department_id] = supervisors_for(self.db, department_id)
        return self._supervisors[department_id]

    def pool(self, ticket: Ticket) -> Sequence[User]:
        """The owner, or the department's members when nobody owns the callback."""
        return [ticket.owner] if ticket.owner is not None else self.members(ticket.department_id)


def _done(db: Session, ticket_ids: Sequence[int]) -> set[tuple[int, str, str]]:
    """Return the (ticket, kind, key) reminders queued before, for the tickets at hand.

    A reminder is an event: once queued for its recipients of the moment it is done, so a poll
    that finds nothing new costs one query instead of one per ticket and recipient.
    """
    done: set[tuple[int, str, str]] = set()
    for start in range(0, len(ticket_ids), 500):  # stay under SQLite's parameter limit
        chunk = ticket_ids[start : start + 500]
        rows = db.execute(
            select(Notification.ticket_id, Notification.kind, Notification.due_key)
            .where(Notification.ticket_id.in_(chunk))
            .distinct()
        )
        done |= {(tid, kind, key) for tid, kind, key in rows if tid is not None}
    return done


def queue_reminders(
    db: Session, *, now: datetime, policy: TicketPolicy, limit: int | None = None
) -> ReminderCounts:
    """Queue every reminder that is due at `now` and not queued before; flush, never commit.

    With `limit`, stop after that many tickets got new reminders and set `more`: the caller
    commits and calls again, so a backlog (a worker back after a day) never holds SQLite's
    write lock for long.
    """
    counts = ReminderCounts()
    worked: set[int] = set()

    def full(ticket_id: int) -> bool:
        if limit is not None and ticket_id not in worked and len(worked) >= limit:
            counts.more = True
            return True
        worked.add(ticket_id)
        return False

    people = _People(db)
    loaders = (
        selectinload(Ticket.owner),
        selectinload(Ticket.topic),
        selectinload(Ticket.department),
    )

    fresh = db.scalars(
        select(Ticket)
        .where(
            Ticket.status == TicketStatus.OPEN,
            Ticket.department_id.is_not(None),
            Ticket.owner_id.is_(None),
            Ticket.number.is_not(None),
            Ticket.called_at >= now - timedelta(hours=policy.new_ticket_lookback_hours),
            ~select(CallbackAttempt.id).where(CallbackAttempt.ticket_id == Ticket.id).exists(),
        )
        .options(*loaders)
        .order_by(Ticket.id)
    ).all()
    done = _done(db, [t.id for t in fresh])
    for ticket in fresh:
        assert ticket.department_id is not None
        key = new_ticket_key(ticket.department_id)
        if (ticket.id, Kind.NEW_TICKET, key) in done:
            continue
        if full(ticket.id):
            break
        counts.add(
            Kind.NEW_TICKET,
            queue_notification(
                db,
                ticket=ticket,
                kind=Kind.NEW_TICKET,
                recipients=people.members(ticket.department_id),
                now=now,
                policy=policy,
                due=ticket.callback_due_at,
                due_key=key,
            ),
        )

    due_expr = func.coalesce(Ticket.next_attempt_at, Ticket.callback_due_at)
    waiting = db.scalars(
        select(Ticket)
        .where(
            Ticket.status == TicketStatus.OPEN,
            Ticket.number.is_not(None),
            due_expr.is_not(None),
            due_expr <= now + policy.due_soon,
        )
        .options(*loaders)
        .order_by(due_expr, Ticket.id)
    ).all()
    done = _done(db, [t.id for t in waiting])
    for ticket in waiting:
        due = due_at(ticket)
        if due is None:
            continue
        key = due.isoformat()
        steps: list[tuple[str, Sequence[User]]] = []
        if now < due:
            steps.append((Kind.DUE_SOON, people.pool(ticket)))
        else:
            supervisors = people.supervisors(ticket.department_id)
            steps.append((Kind.OVERDUE, [*people.pool(ticket), *supervisors]))
            if policy.escalate_after_minutes > 0 and now >= due + policy.escalate_after:
                steps.append((Kind.ESCALATION, supervisors))
        todo = [(kind, users) for kind, users in steps if (ticket.id, kind, key) not in done]
        if not todo:
            continue
        if full(ticket.id):
            break
        for kind, recipients in todo:
            counts.add(
                kind,
                queue_notification(
                    db,
                    ticket=ticket,
                    kind=kind,
                    recipients=recipients,
                    now=now,
                    policy=policy,
                    due=due,
                    due_key=key,
                ),
            )
    db.flush()
    return counts
