"""Callback attempts: rescheduling inside office hours, unreachable, wrong numbers, outcomes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AttemptOutcome, Notification, Role, Ticket, TicketStatus, User
from tests.tickets.helpers import vn
from tickets import errors
from tickets.calendar import OfficeCalendar
from tickets.policy import TicketPolicy
from tickets.services import claim, log_attempt


@pytest.fixture
def staff(make_user: Callable[..., User]) -> User:
    return make_user(Role.CALLBACK_STAFF, ("thue",), name="Lê Thị Gọi Lại")


def test_no_answer_reschedules_then_unreachable_goes_to_supervisors(
    db: Session,
    make_ticket: Callable[..., Ticket],
    make_user: Callable[..., User],
    staff: User,
    calendar: OfficeCalendar,
    policy: TicketPolicy,
) -> None:
    boss = make_user(Role.SUPERVISOR, phone="+84911000111")
    ticket = make_ticket(called_at=vn(2026, 12, 4, 9, 0), callback_due_at=vn(2026, 12, 4, 13, 0))

    def attempt(outcome: AttemptOutcome, at: tuple[int, int, int, int, int]) -> None:
        log_attempt(
            db,
            ticket=ticket,
            user=staff,
            outcome=outcome,
            note="",
            now=vn(*at),
            calendar=calendar,
            policy=policy,
        )

    attempt(AttemptOutcome.NO_ANSWER, (2026, 12, 4, 10, 0))
    assert ticket.status is TicketStatus.OPEN
    assert ticket.next_attempt_at == vn(2026, 12, 4, 11, 0)  # 1 hour
    assert ticket.first_callback_at == vn(2026, 12, 4, 10, 0)
    attempt(AttemptOutcome.BUSY, (2026, 12, 4, 16, 0))
    assert ticket.next_attempt_at == vn(2026, 12, 7, 10, 30)  # 4 office hours: Friday -> Monday
    attempt(AttemptOutcome.NO_ANSWER, (2026, 12, 7, 10, 30))
    assert ticket.status is TicketStatus.UNREACHABLE
    assert ticket.next_attempt_at is None
    assert len(ticket.attempts) == 3 and all(a.user is staff for a in ticket.attempts)
    notes = db.scalars(select(Notification).where(Notification.ticket_id == ticket.id)).all()
    assert {(n.user_id, n.kind, n.channel) for n in notes} == {
        (boss.id, "unreachable", "inapp"),
        (boss.id, "unreachable", "email"),
    }
    assert "sau 3 lần" in notes[0].body or "Đã gọi lại 3 lần" in notes[0].body


def test_the_morning_step_with_more_attempts(
    db: Session,
    make_ticket: Callable[..., Ticket],
    staff: User,
    calendar: OfficeCalendar,
    policy: TicketPolicy,
) -> None:
    more = TicketPolicy(max_attempts=5)
    ticket = make_ticket()
    for at in ((2026, 12, 1, 8, 0), (2026, 12, 1, 9, 0), (2026, 12, 1, 14, 0)):
        log_attempt(
            db,
            ticket=ticket,
            user=staff,
            outcome=AttemptOutcome.NO_ANSWER,
            note="",
            now=vn(*at),
            calendar=calendar,
            policy=more,
        )
    assert ticket.next_attempt_at == vn(2026, 12, 2, 7, 30)
    assert ticket.status is TicketStatus.OPEN


def test_reached_outcomes(
    db: Session,
    make_ticket: Callable[..., Ticket],
    staff: User,
    calendar: OfficeCalendar,
    policy: TicketPolicy,
) -> None:
    now = vn(2026, 12, 1, 10, 0)
    ticket = make_ticket()
    log_attempt(
        db,
        ticket=ticket,
        user=staff,
        outcome=AttemptOutcome.NO_ANSWER,
        note="",
        now=now,
        calendar=calendar,
        policy=policy,
    )
    log_attempt(
        db,
        ticket=ticket,
        user=staff,
        outcome=AttemptOutcome.REACHED_FOLLOW_UP,
        note="Cần tra cứu hồ sơ, gọi lại sau.",
        now=now,
        calendar=calendar,
        policy=policy,
    )
    assert ticket.status is TicketStatus.FOLLOW_UP
    assert ticket.owner is staff  # whoever reached the caller follows up
    assert ticket.next_attempt_at is None
    with pytest.raises(errors.NoteRequired):
        log_attempt(
            db,
            ticket=ticket,
            user=staff,
            outcome=AttemptOutcome.REACHED_RESOLVED,
            note=" ",
            now=now,
            calendar=calendar,
            policy=policy,
        )
    log_attempt(
        db,
        ticket=ticket,
        user=staff,
        outcome=AttemptOutcome.REACHED_RESOLVED,
        note="Đã hướng dẫn thủ tục.",
        now=now,
        calendar=calendar,
        policy=policy,
    )
    assert ticket.status is TicketStatus.RESOLVED
    assert ticket.resolution_note == "Đã hướng dẫn thủ tục."
    with pytest.raises(errors.TicketClosed):
        log_attempt(
            db,
            ticket=ticket,
            user=staff,
            outcome=AttemptOutcome.NO_ANSWER,
            note="",
            now=now,
            calendar=calendar,
            policy=policy,
        )


def test_failures_count_again_after_a_follow_up(
    db: Session,
    make_ticket: Callable[..., Ticket],
    staff: User,
    calendar: OfficeCalendar,
    policy: TicketPolicy,
) -> None:
    ticket = make_ticket()
    outcomes = [
        AttemptOutcome.NO_ANSWER,
        AttemptOutcome.NO_ANSWER,
        AttemptOutcome.REACHED_FOLLOW_UP,
    ]
    outcomes += [AttemptOutcome.NO_ANSWER, AttemptOutcome.LEFT_MESSAGE]
    for outcome in outcomes:
        log_attempt(
            db,
            ticket=ticket,
            user=staff,
            outcome=outcome,
            note="x",
            now=vn(2026, 12, 1, 9, 0),
            calendar=calendar,
            policy=policy,
        )
    assert ticket.status is TicketStatus.OPEN  # two failures since the caller was reached


def test_wrong_number_tries_the_other_number_first(
    db: Session,
    make_ticket: Callable[..., Ticket],
    staff: User,
    calendar: OfficeCalendar,
    policy: TicketPolicy,
) -> None:
    now = vn(2026, 12, 1, 10, 0)
    ticket = make_ticket(caller="+84912345678", callback_number="+84988123456")
    first = log_attempt(
        db,
        ticket=ticket,
        user=staff,
        outcome=AttemptOutcome.WRONG_NUMBER,
        note="",
        now=now,
        calendar=calendar,
        policy=policy,
    )
    assert first.number_dialled == "+84988123456"  # the number said in the message first
    assert ticket.status is TicketStatus.OPEN and ticket.next_attempt_at == now
    log_attempt(
        db,
        ticket=ticket,
        user=staff,
        outcome=AttemptOutcome.WRONG_NUMBER,
        note="",
        now=now,
        calendar=calendar,
        policy=policy,
        number_dialled="0912345678",
    )
    assert ticket.status is TicketStatus.UNREACHABLE


def test_in_progress_cannot_be_logged_by_hand_and_others_cannot_log(
    db: Session,
    make_ticket: Callable[..., Ticket],
    make_user: Callable[..., User],
    staff: User,
    calendar: OfficeCalendar,
    policy: TicketPolicy,
) -> None:
    ticket = make_ticket()
    with pytest.raises(errors.InvalidOutcome):
        log_attempt(
            db,
            ticket=ticket,
            user=staff,
            outcome=AttemptOutcome.IN_PROGRESS,
            note="",
            now=vn(2026, 12, 1, 9, 0),
            calendar=calendar,
            policy=policy,
        )
    outsider = make_user(Role.CALLBACK_STAFF, ("hai-quan",))
    with pytest.raises(errors.NotAllowed):
        log_attempt(
            db,
            ticket=ticket,
            user=outsider,
            outcome=AttemptOutcome.NO_ANSWER,
            note="",
            now=vn(2026, 12, 1, 9, 0),
            calendar=calendar,
            policy=policy,
        )
    claim(db, ticket=ticket, user=staff, now=vn(2026, 12, 1, 9, 0))
