"""The ticket jobs: thin, idempotent units of work around the services, one transaction each.

The composition root registers them on the task queue (and the CLI twins call the very same
functions), passing a session factory, the policy, the notifiers and `now`. A job re-reads its
rows, does nothing when there is nothing to do, and commits; notifications go out only after the
transaction that queued them has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import AttemptOutcome, CallbackAttempt, Ticket, TicketStatus
from tickets.calendar import load_calendar
from tickets.notify import Delivery, Notifier, deliver_pending
from tickets.policy import TicketPolicy
from tickets.reminders import ReminderCounts, due_at, queue_reminders
from tickets.services import close_stale_dial, return_to_pool, route_ticket

log = logging.getLogger(__name__)

# Tickets per reminder transaction: short transactions keep SQLite's single writer lock free
# for webhooks even when a backlog of reminders is queued at once.
REMINDER_BATCH = 50


def route_ticket_job(
    sessions: sessionmaker[Session], ticket_id: int, *, now: datetime, policy: TicketPolicy
) -> bool:
    """Route one ticket; return False if it does not exist."""
    with sessions() as db, db.begin():
        calendar = load_calendar(db, policy.timezone)
        ticket = route_ticket(db, ticket_id=ticket_id, now=now, calendar=calendar, options=policy)
        return ticket is not None


@dataclass(frozen=True)
class PollReport:
    queued: ReminderCounts
    delivery: Delivery


def send_reminders(
    sessions: sessionmaker[Session],
    *,
    now: datetime,
    policy: TicketPolicy,
    notifiers: Mapping[str, Notifier],
) -> PollReport:
    """Queue the reminders due at `now` (committing every few tickets), then deliver them."""
    counts = ReminderCounts()
    while True:
        with sessions() as db, db.begin():
            batch = queue_reminders(db, now=now, policy=policy, limit=REMINDER_BATCH)
        for kind, n in batch.added.items():
            counts.add(kind, n)
        if not batch.more:
            break
    delivery = deliver_pending(sessions, now=now, notifiers=notifiers)
    return PollReport(counts, delivery)


@dataclass
class SweepReport:
    routed: list[str] = field(default_factory=list)
    returned_to_pool: list[str] = field(default_factory=list)
    dials_closed: int = 0


def sweep(sessions: sessionmaker[Session], *, now: datetime, policy: TicketPolicy) -> SweepReport:
    """Repair what lost messages and forgetful people leave behind.

    - route tickets that never got routed (the queue lost the job) or that are still "in
      call" long after the call (the end-of-call webhook never came);
    - return overdue personal callbacks to the department's pool;
    - log click-to-calls the caller did not answer and nobody logged.
    Each ticket in its own transaction, so one bad row does not stop the others.
    """
    report = SweepReport()
    with sessions() as db:
        stale_call = now - timedelta(minutes=policy.stale_in_call_minutes)
        unrouted = db.scalars(
            select(Ticket.id).where(
                or_(
                    (Ticket.status == TicketStatus.IN_CALL) & (Ticket.called_at <= stale_call),
                    Ticket.status.in_(
                        (TicketStatus.OPEN, TicketStatus.FOLLOW_UP, TicketStatus.UNREACHABLE)
                    )
                    & or_(Ticket.department_id.is_(None), Ticket.callback_due_at.is_(None)),
                )
            )
        ).all()
    for ticket_id in unrouted:
        try:
            with sessions() as db, db.begin():
                calendar = load_calendar(db, policy.timezone)
                ticket = route_ticket(
                    db, ticket_id=ticket_id, now=now, calendar=calendar, options=policy
                )
                if ticket is not None and ticket.number:
                    report.routed.append(ticket.number)
        except Exception:
            log.exception("sweep: routing ticket %s failed", ticket_id)

    due_expr = func.coalesce(Ticket.next_attempt_at, Ticket.callback_due_at)
    with sessions() as db:
        overdue_owned = db.scalars(
            select(Ticket.id).where(
                Ticket.status == TicketStatus.OPEN,
                Ticket.owner_id.is_not(None),
                due_expr <= now - policy.pool_return_after,
            )
        ).all()
    for ticket_id in overdue_owned:
        with sessions() as db, db.begin():
            ticket = db.get(Ticket, ticket_id)
            if ticket is None or ticket.owner is None or ticket.status is not TicketStatus.OPEN:
                continue
            due = due_at(ticket)
            if due is None or due > now - policy.pool_return_after:
                continue  # claimed again or rescheduled since the query
            return_to_pool(db, ticket=ticket, now=now, policy=policy, due=due)
            report.returned_to_pool.append(ticket.number or str(ticket.id))

    with sessions() as db:
        stale_dials = db.scalars(
            select(CallbackAttempt.id).where(
                CallbackAttempt.outcome == AttemptOutcome.IN_PROGRESS,
                CallbackAttempt.answered.is_(False),
                CallbackAttempt.started_at <= now - timedelta(minutes=policy.stale_dial_minutes),
            )
        ).all()
    for attempt_id in stale_dials:
        with sessions() as db, db.begin():
            attempt = db.get(CallbackAttempt, attempt_id)
            if attempt is None or attempt.outcome is not AttemptOutcome.IN_PROGRESS:
                continue
            calendar = load_calendar(db, policy.timezone)
            close_stale_dial(db, attempt=attempt, now=now, calendar=calendar, policy=policy)
            report.dials_closed += 1
    return report
