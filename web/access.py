"""Who may see and do what: roles, departments, and the ticket lookups that enforce them.

Officers and callback staff see only their departments' tickets; supervisors and admins see
all. A ticket someone may not see is answered exactly like a ticket that does not exist (404),
on the pages, for recordings and in the API, so numbers cannot be probed.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort
from flask_login import current_user
from sqlalchemy.orm import Session

from storage.models import Recording, Role, Ticket, User
from tickets.queries import can_see, ticket_by_number, visible_to

F = TypeVar("F", bound=Callable[..., Any])

# The rules themselves live with the tickets (the API, the CLI and the jobs share them).
__all__ = ["Can", "allowed", "can_see", "me", "requires", "ticket_or_404", "visible_to"]


class Can(StrEnum):
    """The things a role may do; views ask for one of these, templates too."""

    VIEW_TICKETS = "view_tickets"
    ADD_NOTES = "add_notes"
    WORK_CALLBACKS = "work_callbacks"  # claim, release, call back, log an outcome
    HANDLE_TICKETS = "handle_tickets"  # correct transcript, reassign, change topic, resolve
    SEE_REPORTS = "see_reports"
    ADMINISTER = "administer"  # settings and users


_ALL = frozenset(Role)
PERMISSIONS: dict[Can, frozenset[Role]] = {
    Can.VIEW_TICKETS: _ALL,
    Can.ADD_NOTES: _ALL,
    Can.WORK_CALLBACKS: _ALL,
    Can.HANDLE_TICKETS: frozenset({Role.ADMIN, Role.SUPERVISOR, Role.OFFICER}),
    Can.SEE_REPORTS: frozenset({Role.ADMIN, Role.SUPERVISOR}),
    Can.ADMINISTER: frozenset({Role.ADMIN}),
}


def allowed(user: User | None, permission: Can) -> bool:
    """Say whether `user` may do `permission`."""
    return user is not None and user.active and user.role in PERMISSIONS[permission]


def me() -> User:
    """Return the signed-in user's row (views behind login only)."""
    return cast(User, current_user.user)


def requires(permission: Can) -> Callable[[F], F]:
    """Answer 403 unless the signed-in user has `permission`."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not allowed(me(), permission):
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


def visible_ticket(db: Session, user: User, number: str) -> Ticket | None:
    """Return the ticket numbered `number` if `user` may see it, else None."""
    ticket = ticket_by_number(db, number)
    if ticket is None or not can_see(user, ticket):
        return None
    return ticket


def ticket_or_404(db: Session, user: User, number: str) -> Ticket:
    """Return the visible ticket or answer 404 (also for another department's ticket)."""
    ticket = visible_ticket(db, user, number)
    if ticket is None:
        abort(404)
    return ticket


def recording_of(ticket: Ticket, recording_id: int | None = None) -> Recording | None:
    """Return the ticket's recording with `recording_id` (default: the latest stored one)."""
    if recording_id is None:
        stored = [r for r in ticket.recordings if r.audio_key]
        return stored[-1] if stored else None
    for recording in ticket.recordings:
        if recording.id == recording_id:
            return recording
    return None
