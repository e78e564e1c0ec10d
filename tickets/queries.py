"""Read-only questions about tickets, shared by the CLI, the web pages and the API."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session, selectinload

from storage.models import (
    CallbackAttempt,
    Notification,
    Recording,
    Role,
    Ticket,
    User,
    user_departments,
)
from tickets.phones import phone_variants
from tickets.policy import INAPP


def latest_tickets(db: Session, *, limit: int = 20) -> Sequence[Ticket]:
    """Return the newest tickets first."""
    stmt = (
        select(Ticket)
        .where(Ticket.number.is_not(None))
        .options(selectinload(Ticket.topic))
        .order_by(Ticket.called_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    return db.scalars(stmt).all()


def ticket_by_number(db: Session, number: str) -> Ticket | None:
    """Return the ticket with public number `number`, with what its page shows loaded."""
    stmt = (
        select(Ticket)
        .where(Ticket.number == number.strip())
        .options(
            selectinload(Ticket.recordings).selectinload(Recording.transcript),
            selectinload(Ticket.attempts).selectinload(CallbackAttempt.user),
            selectinload(Ticket.topic),
            selectinload(Ticket.suggested_topic),
            selectinload(Ticket.department),
            selectinload(Ticket.area),
            selectinload(Ticket.owner),
        )
    )
    return db.scalar(stmt)


def visible_to(user: User) -> ColumnElement[bool]:
    """Return a WHERE clause for the tickets `user` may see.

    Officers and callback staff see their departments' tickets; supervisors and admins see all;
    an inactive account sees nothing.
    """
    if not user.active:
        return false()
    if user.sees_all_departments:
        return true()
    ids = [d.id for d in user.departments]
    return Ticket.department_id.in_(ids) if ids else false()


def can_see(user: User, ticket: Ticket) -> bool:
    """Say whether `user` may see `ticket` (the Python twin of `visible_to`)."""
    if not user.active:
        return False
    if user.sees_all_departments:
        return True
    return ticket.department_id in {d.id for d in user.departments}


def earlier_tickets(db: Session, ticket: Ticket, *, limit: int = 20) -> Sequence[Ticket]:
    """Return the same caller's earlier tickets, newest first (+84… and 0… forms are equal).

    A ticket matches on its caller ID or on a callback number spoken in a message, against both
    numbers of `ticket`.
    """
    numbers: set[str] = set()
    for raw in (ticket.caller, ticket.callback_number):
        numbers |= phone_variants(raw)
    if not numbers:
        return []
    stmt = (
        select(Ticket)
        .where(
            Ticket.id != ticket.id,
            Ticket.number.is_not(None),
            Ticket.called_at <= ticket.called_at,
            or_(Ticket.caller.in_(numbers), Ticket.callback_number.in_(numbers)),
        )
        .options(selectinload(Ticket.topic))
        .order_by(Ticket.called_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    return db.scalars(stmt).all()


def department_members(db: Session, department_id: int) -> Sequence[User]:
    """Return the active users of a department: the pool that shares its callbacks."""
    stmt = (
        select(User)
        .join(user_departments, user_departments.c.user_id == User.id)
        .where(user_departments.c.department_id == department_id, User.active.is_(True))
        .order_by(User.id)
    )
    return db.scalars(stmt).all()


def supervisors_for(db: Session, department_id: int | None) -> Sequence[User]:
    """Return the supervisors to tell about a department's ticket.

    Supervisors assigned to the department when there are any, otherwise every supervisor:
    a province with one supervisor team needs no assignment, a large one can divide the work.
    """
    everyone = select(User).where(User.role == Role.SUPERVISOR, User.active.is_(True))
    if department_id is not None:
        assigned = db.scalars(
            everyone.join(user_departments, user_departments.c.user_id == User.id)
            .where(user_departments.c.department_id == department_id)
            .order_by(User.id)
        ).all()
        if assigned:
            return assigned
    return db.scalars(everyone.order_by(User.id)).all()


def inbox(
    db: Session, user: User, *, unread_only: bool = False, limit: int = 50
) -> Sequence[Notification]:
    """Return the user's in-app notifications, newest first."""
    stmt = (
        select(Notification)
        .where(Notification.user_id == user.id, Notification.channel == INAPP)
        .options(selectinload(Notification.ticket))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return db.scalars(stmt).all()
