"""Read-only questions about tickets, shared by the CLI, the web pages and the API."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from storage.models import Recording, Ticket


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
            selectinload(Ticket.attempts),
            selectinload(Ticket.topic),
            selectinload(Ticket.department),
            selectinload(Ticket.area),
            selectinload(Ticket.owner),
        )
    )
    return db.scalar(stmt)
