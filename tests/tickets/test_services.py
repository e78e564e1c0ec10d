"""People working tickets: claim, release, reassign, notes, corrections, resolving, the queue."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import (
    AuditEvent,
    Department,
    Notification,
    Role,
    Ticket,
    TicketStatus,
    User,
)
from tests.tickets.helpers import vn
from tickets import errors
from tickets.policy import SMS_CALLER, TicketPolicy
from tickets.services import (
    add_note,
    callback_queue,
    claim,
    correct_transcript,
    reassign,
    release,
    resolve,
    visible_to,
)

NOW = vn(2026, 12, 1, 10, 0)


def _dept(db: Session, code: str) -> Department:
    dept = db.scalar(select(Department).where(Department.code == code))
    assert dept is not None
    return dept


def _audit(db: Session, ticket: Ticket) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.ticket_id == ticket.id)))


def test_claim_and_release_are_audited(
    db: Session, make_ticket: Callable[..., Ticket], make_user: Callable[..., User]
) -> None:
    ticket = make_ticket(digit_topic="thue")
    lan = make_user(Role.CALLBACK_STAFF, ("thue",), name="Lê Thị Lan")
    minh = make_user(Role.CALLBACK_STAFF, ("thue",), name="Trần Minh")
    claim(db, ticket=ticket, user=lan, now=NOW)
    assert ticket.owner is lan and ticket.claimed_at == NOW
    claim(db, ticket=ticket, user=lan, now=NOW)  # twice: nothing new
    with pytest.raises(errors.AlreadyClaimed, match="Lê Thị Lan"):
        claim(db, ticket=ticket, user=minh, now=NOW)
    with pytest.raises(errors.NotOwner):
        release(db, ticket=ticket, user=minh, now=NOW)
    release(db, ticket=ticket, user=lan, now=NOW)
    assert ticket.owner is None
    owner_events = [(e.from_value, e.to_value, e.user_id) for e in _audit(db, ticket)]
    assert owner_events == [(None, lan.email, lan.id), (lan.email, None, lan.id)]


def test_a_supervisor_may_take_a_claimed_ticket(
    db: Session, make_ticket: Callable[..., Ticket], make_user: Callable[..., User]
) -> None:
    ticket = make_ticket()
    staff = make_user(Role.CALLBACK_STAFF, ("thue",))
    boss = make_user(Role.SUPERVISOR)
    claim(db, ticket=ticket, user=staff, now=NOW)
    claim(db, ticket=ticket, user=boss, now=NOW)
    assert ticket.owner is boss


def test_other_departments_may_not_claim(
    db: Session, make_ticket: Callable[..., Ticket], make_user: Callable[..., User]
) -> None:
    ticket = make_ticket(digit_topic="thue")
    customs = make_user(Role.OFFICER, ("hai-quan",))
    with pytest.raises(errors.NotAllowed) as caught:
        claim(db, ticket=ticket, user=customs, now=NOW)
    assert caught.value.message == "Bạn không có quyền xử lý phiếu này."


def test_reassign_needs_a_reason_and_drops_an_owner_from_elsewhere(
    db: Session, make_ticket: Callable[..., Ticket], make_user: Callable[..., User]
) -> None:
    ticket = make_ticket(digit_topic="thue")
    staff = make_user(Role.CALLBACK_STAFF, ("thue",))
    claim(db, ticket=ticket, user=staff, now=NOW)
    with pytest.raises(errors.ReasonRequired):
        reassign(
            db, ticket=ticket, department_id=_dept(db, "hai-quan").id, by=staff, reason=" ", now=NOW
        )
    reassign(
        db,
        ticket=ticket,
        department_id=_dept(db, "hai-quan").id,
        by=staff,
        reason="Hỏi về tờ khai",
        now=NOW,
    )
    assert ticket.department is _dept(db, "hai-quan")
    assert ticket.owner is None
    moved = [e for e in _audit(db, ticket) if e.action == "department_changed"]
    assert [(e.from_value, e.to_value, e.reason, e.user_id) for e in moved] == [
        ("thue", "hai-quan", "Hỏi về tờ khai", staff.id)
    ]


def test_notes_and_transcript_corrections_keep_the_machine_text(
    db: Session, make_ticket: Callable[..., Ticket], make_user: Callable[..., User]
) -> None:
    ticket = make_ticket(text="cong ty hoi ve thue")
    officer = make_user(Role.OFFICER, ("thue",))
    with pytest.raises(errors.EmptyText):
        add_note(db, ticket=ticket, user=officer, body="  ", now=NOW)
    note = add_note(db, ticket=ticket, user=officer, body="Đã gọi, hẹn gọi lại chiều nay.", now=NOW)
    assert note.ticket is ticket and note.user is officer
    transcript = ticket.recordings[0].transcript
    assert transcript is not None
    correct_transcript(
        db, transcript=transcript, user=officer, text="Công ty hỏi về thuế.", now=NOW
    )
    assert transcript.text == "cong ty hoi ve thue"
    assert transcript.best_text == "Công ty hỏi về thuế."
    assert transcript.corrected_by is officer and transcript.corrected_at == NOW
    fixed = [e for e in _audit(db, ticket) if e.action == "transcript_corrected"]
    assert fixed[0].from_value == "cong ty hoi ve thue"


def test_resolve_needs_a_note_and_texts_the_caller_once(
    db: Session,
    make_ticket: Callable[..., Ticket],
    make_user: Callable[..., User],
    policy: TicketPolicy,
) -> None:
    ticket = make_ticket(caller="+84912345678")
    officer = make_user(Role.OFFICER, ("thue",))
    with pytest.raises(errors.NoteRequired) as caught:
        resolve(db, ticket=ticket, user=officer, note="", now=NOW, policy=policy)
    assert "nội dung trả lời" in str(caught.value)
    resolve(
        db,
        ticket=ticket,
        user=officer,
        note="Đã hướng dẫn hồ sơ hoàn thuế.",
        now=NOW,
        policy=policy,
    )
    assert ticket.status is TicketStatus.RESOLVED
    assert ticket.resolved_at == NOW and ticket.resolved_by_id == officer.id
    with pytest.raises(errors.TicketClosed):
        resolve(db, ticket=ticket, user=officer, note="lần nữa", now=NOW, policy=policy)
    sms = db.scalars(select(Notification).where(Notification.channel == SMS_CALLER)).all()
    assert len(sms) == 1
    assert sms[0].read_at == NOW and sms[0].sent_at is None  # queued; the poll delivers it
    assert "đã được trả lời" in sms[0].body and ticket.number in sms[0].body  # type: ignore[operator]


def test_visible_to_follows_departments_and_roles(
    db: Session, make_ticket: Callable[..., Ticket], make_user: Callable[..., User]
) -> None:
    tax = make_ticket(digit_topic="thue")
    customs = make_ticket(digit_topic="hai-quan")
    officer = make_user(Role.OFFICER, ("thue",))
    boss = make_user(Role.SUPERVISOR)
    gone = make_user(Role.ADMIN)
    gone.active = False
    ids = {tax.id, customs.id}

    def seen(user: User) -> set[int]:
        return set(db.scalars(select(Ticket.id).where(visible_to(user), Ticket.id.in_(ids))))

    assert seen(officer) == {tax.id}
    assert seen(boss) == ids
    assert seen(gone) == set()


def test_callback_queue_is_due_ordered_with_overdue_first_and_pool_or_mine(
    db: Session, make_ticket: Callable[..., Ticket], make_user: Callable[..., User]
) -> None:
    staff = make_user(Role.CALLBACK_STAFF, ("thue",))
    colleague = make_user(Role.CALLBACK_STAFF, ("thue",))
    boss = make_user(Role.SUPERVISOR)
    now = vn(2026, 12, 2, 10, 0)
    later = make_ticket(called_at=vn(2026, 12, 2, 9, 0), callback_due_at=vn(2026, 12, 2, 15, 0))
    overdue = make_ticket(called_at=vn(2026, 12, 1, 9, 0), callback_due_at=vn(2026, 12, 1, 15, 0))
    retry = make_ticket(
        called_at=vn(2026, 12, 1, 8, 0),
        callback_due_at=vn(2026, 12, 1, 12, 0),
        next_attempt_at=vn(2026, 12, 2, 11, 0),
    )
    same_due_earlier_call = make_ticket(
        called_at=vn(2026, 12, 2, 8, 0), callback_due_at=vn(2026, 12, 2, 15, 0)
    )
    mine = make_ticket(called_at=vn(2026, 12, 2, 9, 30), callback_due_at=vn(2026, 12, 2, 16, 0))
    theirs = make_ticket(called_at=vn(2026, 12, 2, 9, 30), callback_due_at=vn(2026, 12, 2, 10, 30))
    make_ticket(digit_topic="hai-quan", callback_due_at=vn(2026, 12, 1, 9, 0))  # not my dept
    make_ticket(status=TicketStatus.RESOLVED, callback_due_at=vn(2026, 12, 1, 9, 0))
    stuck = make_ticket(status=TicketStatus.UNREACHABLE, callback_due_at=vn(2026, 12, 1, 9, 0))
    claim(db, ticket=mine, user=staff, now=now)
    claim(db, ticket=theirs, user=colleague, now=now)

    queue = callback_queue(db, user=staff, now=now)
    assert [e.ticket.id for e in queue] == [
        overdue.id,
        retry.id,
        same_due_earlier_call.id,
        later.id,
        mine.id,
    ]
    assert [e.overdue for e in queue] == [True, False, False, False, False]
    assert queue[1].due_at == vn(2026, 12, 2, 11, 0)
    assert [e.in_pool for e in queue] == [True, True, True, True, False]

    everything = [e.ticket.id for e in callback_queue(db, user=boss, now=now)]
    assert theirs.id in everything and stuck.id == everything[-1]


def test_inbox_lists_in_app_notifications_and_marks_them_read(
    db: Session,
    make_ticket: Callable[..., Ticket],
    make_user: Callable[..., User],
    policy: TicketPolicy,
) -> None:
    from tickets.notify import queue_notification
    from tickets.policy import Kind
    from tickets.queries import inbox
    from tickets.services import mark_read

    staff = make_user(Role.CALLBACK_STAFF, ("thue",))
    ticket = make_ticket()
    added = queue_notification(
        db, ticket=ticket, kind=Kind.NEW_TICKET, recipients=[staff], now=NOW, policy=policy
    )
    assert added == 2  # in-app and e-mail
    unread = inbox(db, staff, unread_only=True)
    assert [(n.channel, n.link) for n in unread] == [
        ("inapp", f"https://hotline.test/tickets/{ticket.number}")
    ]
    assert mark_read(db, user=staff, now=NOW) == 1
    assert inbox(db, staff, unread_only=True) == []
    assert len(inbox(db, staff)) == 1
