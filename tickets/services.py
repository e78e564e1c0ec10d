"""What people and jobs do to tickets: route, assign, call back, resolve, correct.

Services are plain functions: the session first, keyword-only options, `now` passed in (a
frozen clock in tests), `flush()` and never `commit()` — the caller owns the transaction. Every
change of department, topic, owner, status or due time writes an `AuditEvent` (who, when, what,
why); a NULL user is the system (routing, the sweep). Errors are `tickets.errors` exceptions
whose message is shown to officers as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, case, func, null, nulls_last, or_, select, update
from sqlalchemy.orm import Session, selectinload

from storage.models import (
    Area,
    AttemptOutcome,
    AuditEvent,
    CallbackAttempt,
    Department,
    Notification,
    Role,
    Ticket,
    TicketNote,
    TicketStatus,
    Topic,
    Transcript,
    User,
)
from tickets import sla
from tickets.calendar import OfficeCalendar, load_calendar
from tickets.errors import (
    AlreadyClaimed,
    DialFailed,
    EmptyText,
    InvalidOutcome,
    NoCallbackNumber,
    NoStaffPhone,
    NotAllowed,
    NoteRequired,
    NotOwner,
    ReasonRequired,
    TicketClosed,
    UnknownDepartment,
    UnknownTopic,
)
from tickets.notify import queue_caller_sms, queue_notification
from tickets.phones import extract_callback_number, normalize_phone
from tickets.policy import INAPP, Kind, TicketPolicy
from tickets.queries import can_see, earlier_tickets, supervisors_for, visible_to
from tickets.reminders import due_at
from tickets.routing import AreaRule, TopicRule, decide, detect_area

__all__ = [
    "Dialer",
    "QueueEntry",
    "add_note",
    "callback_queue",
    "change_topic",
    "claim",
    "correct_transcript",
    "earlier_tickets",
    "log_attempt",
    "mark_read",
    "reassign",
    "release",
    "resolve",
    "route_ticket",
    "start_click_to_call",
    "visible_to",
]

log = logging.getLogger(__name__)


class Action:
    """Audit event actions (the `action` column)."""

    # "<what>_changed" like the IVR's own events ("status_changed", "kind_changed").
    ROUTED = "routed"  # the system set the department (keypad or transcript)
    DEPARTMENT = "department_changed"  # a person moved it
    TOPIC = "topic_changed"
    STATUS = "status_changed"
    OWNER = "owner_changed"
    DUE = "due_changed"
    AREA = "area_changed"
    CALLBACK_NUMBER = "callback_number_changed"
    SUGGESTION = "suggestion_changed"
    ATTEMPT = "attempt_logged"
    CLICK_TO_CALL = "click_to_call"
    NOTE = "note_added"
    TRANSCRIPT = "transcript_corrected"


# Outcomes that mean "the caller was not reached; try again later".
_NOT_REACHED = (AttemptOutcome.NO_ANSWER, AttemptOutcome.BUSY, AttemptOutcome.LEFT_MESSAGE)
_REACHED = (AttemptOutcome.REACHED_RESOLVED, AttemptOutcome.REACHED_FOLLOW_UP)
# Statuses in which the callback work goes on.
_WORKING = (TicketStatus.OPEN, TicketStatus.FOLLOW_UP, TicketStatus.UNREACHABLE)
# A click-to-call attempt is matched with the outcome its caller logs within this time.
_OPEN_DIAL_WINDOW = timedelta(hours=2)


def _audit(
    db: Session,
    ticket: Ticket,
    *,
    action: str,
    now: datetime,
    by: User | None = None,
    old: object = None,
    new: object = None,
    reason: str = "",
) -> AuditEvent:
    event = AuditEvent(
        ticket=ticket,
        user_id=by.id if by is not None else None,
        at=now,
        action=action,
        from_value=None if old is None else str(old),
        to_value=None if new is None else str(new),
        reason=reason,
    )
    db.add(event)
    return event


def _code(obj: Department | Topic | Area | None) -> str | None:
    return obj.code if obj is not None else None


def _set_status(
    db: Session,
    ticket: Ticket,
    status: TicketStatus,
    *,
    now: datetime,
    by: User | None = None,
    reason: str = "",
) -> None:
    if ticket.status is status:
        return
    _audit(
        db,
        ticket,
        action=Action.STATUS,
        now=now,
        by=by,
        old=ticket.status.value,
        new=status.value,
        reason=reason,
    )
    ticket.status = status


def _set_owner(
    db: Session, ticket: Ticket, owner: User | None, *, now: datetime, by: User | None, reason: str
) -> None:
    if ticket.owner_id == (owner.id if owner is not None else None):
        return
    _audit(
        db,
        ticket,
        action=Action.OWNER,
        now=now,
        by=by,
        old=ticket.owner.email if ticket.owner is not None else None,
        new=owner.email if owner is not None else None,
        reason=reason,
    )
    ticket.owner = owner
    ticket.claimed_at = now if owner is not None else None


def _set_due(
    db: Session, ticket: Ticket, due: datetime, *, now: datetime, by: User | None, reason: str
) -> None:
    if ticket.callback_due_at == due:
        return
    _audit(
        db,
        ticket,
        action=Action.DUE,
        now=now,
        by=by,
        old=ticket.callback_due_at.isoformat() if ticket.callback_due_at else None,
        new=due.isoformat(),
        reason=reason,
    )
    ticket.callback_due_at = due


def _ensure_not_closed(ticket: Ticket) -> None:
    if ticket.status.is_closed:
        raise TicketClosed()


def _ensure_can_work(user: User, ticket: Ticket) -> None:
    if not can_see(user, ticket) and ticket.owner_id != user.id:
        raise NotAllowed()


def _reason(text: str) -> str:
    reason = (text or "").strip()
    if not reason:
        raise ReasonRequired()
    return reason


# --- routing ---------------------------------------------------------------------------------


def _topic_rule(topic: Topic) -> TopicRule:
    return TopicRule(
        id=topic.id,
        code=topic.code,
        name=topic.name_vi,
        department_id=topic.department_id,
        keywords=tuple(str(k) for k in topic.keywords or ()),
        is_fallback=topic.is_fallback,
        sort_order=topic.sort_order,
    )


def _transcript_text(ticket: Ticket) -> str:
    """Return the newest transcript's best text (an officer's correction wins)."""
    for recording in reversed(ticket.recordings):
        if recording.transcript is not None:
            return recording.transcript.best_text
    return ""


def _keypad_topic(ticket: Ticket) -> Topic | None:
    """Return the topic the caller chose: the call's menu choice is the truth.

    The ticket's own topic may have been changed by transcript routing since; only a ticket
    without a call (made by hand or by the demo) takes its topic as the choice.
    """
    if ticket.call is not None:
        return ticket.call.topic
    return ticket.topic


def _routed_by_hand(db: Session, ticket: Ticket) -> bool:
    """Say whether a person has set the ticket's department or topic (routing keeps off)."""
    stmt = select(AuditEvent.id).where(
        AuditEvent.ticket_id == ticket.id,
        AuditEvent.user_id.is_not(None),
        AuditEvent.action.in_((Action.DEPARTMENT, Action.TOPIC)),
    )
    return db.scalar(stmt.limit(1)) is not None


def route_ticket(
    db: Session,
    *,
    ticket_id: int,
    now: datetime,
    calendar: OfficeCalendar,
    options: TicketPolicy,
) -> Ticket | None:
    """Route a ticket: topic and department, area, spoken callback number, due time.

    Safe to run again at any time (after the call ends, after the transcript arrives, after
    an officer corrects it, from the sweep): the same inputs give the same ticket and no new
    audit events, and a department or topic set by a person is never overridden.
    """
    ticket = db.get(Ticket, ticket_id)
    if ticket is None or ticket.status is TicketStatus.RESOLVED:
        return ticket
    all_topics = db.scalars(select(Topic).order_by(Topic.sort_order, Topic.id)).all()
    rules = [_topic_rule(t) for t in all_topics if t.active]
    by_id = {t.id: t for t in all_topics}
    keypad = _keypad_topic(ticket)
    text = _transcript_text(ticket)

    if not _routed_by_hand(db, ticket):
        decision = decide(
            _topic_rule(keypad) if keypad is not None else None,
            text,
            rules,
            digit_label=(keypad.digit or "") if keypad is not None else "",
        )
        topic = by_id.get(decision.topic.id) if decision.topic is not None else None
        if topic is not None and ticket.topic_id != topic.id:
            _audit(
                db,
                ticket,
                action=Action.TOPIC,
                now=now,
                old=_code(ticket.topic),
                new=topic.code,
                reason=decision.reason,
            )
            ticket.topic = topic
        department_id = topic.department_id if topic is not None else None
        if department_id is not None and ticket.department_id != department_id:
            department = db.get(Department, department_id)
            _audit(
                db,
                ticket,
                action=Action.ROUTED,
                now=now,
                old=_code(ticket.department),
                new=_code(department),
                reason=decision.reason,
            )
            ticket.department = department
        ticket.routing_reason = decision.reason
        suggestion = decision.suggestion
        suggested_id = suggestion.topic.id if suggestion is not None else None
        if ticket.suggested_topic_id != suggested_id:
            why = (
                "nội dung nhắc: " + ", ".join(suggestion.matched)
                if suggestion is not None
                else None
            )
            _audit(
                db,
                ticket,
                action=Action.SUGGESTION,
                now=now,
                old=_code(ticket.suggested_topic),
                new=suggestion.topic.code if suggestion is not None else None,
                reason=why or "",
            )
            ticket.suggested_topic = by_id.get(suggested_id) if suggested_id else None
            ticket.suggestion_reason = why
        hours = topic.sla_hours if topic is not None else options.default_sla_hours
        _set_due(
            db,
            ticket,
            sla.callback_due(calendar, ticket.called_at, hours),
            now=now,
            by=None,
            reason=f"{hours:g} giờ làm việc kể từ cuộc gọi",
        )
    elif ticket.callback_due_at is None:
        hours = ticket.topic.sla_hours if ticket.topic else options.default_sla_hours
        _set_due(
            db,
            ticket,
            sla.callback_due(calendar, ticket.called_at, hours),
            now=now,
            by=None,
            reason=f"{hours:g} giờ làm việc kể từ cuộc gọi",
        )

    if text:
        areas = db.scalars(select(Area).where(Area.active.is_(True)).order_by(Area.id))
        hit = detect_area(
            text,
            [AreaRule(a.id, a.code, a.name, tuple(str(x) for x in a.aliases or ())) for a in areas],
        )
        if hit is not None and ticket.area_id != hit.area.id:
            area = db.get(Area, hit.area.id)
            _audit(
                db,
                ticket,
                action=Action.AREA,
                now=now,
                old=_code(ticket.area),
                new=hit.area.code,
                reason=f"nội dung nhắc: {hit.said}",
            )
            ticket.area = area
        spoken = extract_callback_number(text)
        if spoken is not None and ticket.callback_number != spoken:
            _audit(
                db,
                ticket,
                action=Action.CALLBACK_NUMBER,
                now=now,
                old=ticket.callback_number,
                new=spoken,
                reason="số điện thoại nói trong lời nhắn",
            )
            ticket.callback_number = spoken

    if ticket.status is TicketStatus.IN_CALL:
        _set_status(db, ticket, TicketStatus.OPEN, now=now, reason="cuộc gọi đã kết thúc")
    db.flush()
    return ticket


# --- people working tickets -------------------------------------------------------------------


def reassign(
    db: Session, *, ticket: Ticket, department_id: int, by: User, reason: str, now: datetime
) -> Ticket:
    """Send the ticket to another department; the due time stays (it is the caller's)."""
    _ensure_not_closed(ticket)
    why = _reason(reason)
    department = db.get(Department, department_id)
    if department is None or not department.active:
        raise UnknownDepartment()
    if ticket.department_id == department.id:
        return ticket
    _audit(
        db,
        ticket,
        action=Action.DEPARTMENT,
        now=now,
        by=by,
        old=_code(ticket.department),
        new=department.code,
        reason=why,
    )
    ticket.department = department
    if ticket.suggested_topic is not None and ticket.suggested_topic.department_id == department.id:
        _clear_suggestion(db, ticket, by=by, now=now, reason="đã chuyển theo gợi ý")
    owner = ticket.owner
    if owner is not None and not owner.sees_all_departments and department not in owner.departments:
        _set_owner(db, ticket, None, now=now, by=by, reason="phiếu chuyển sang đơn vị khác")
    db.flush()
    return ticket


def _clear_suggestion(
    db: Session, ticket: Ticket, *, by: User | None, now: datetime, reason: str
) -> None:
    _audit(
        db,
        ticket,
        action=Action.SUGGESTION,
        now=now,
        by=by,
        old=_code(ticket.suggested_topic),
        new=None,
        reason=reason,
    )
    ticket.suggested_topic = None
    ticket.suggestion_reason = None


def change_topic(
    db: Session,
    *,
    ticket: Ticket,
    topic_id: int,
    by: User,
    reason: str,
    now: datetime,
    calendar: OfficeCalendar | None = None,
    timezone: str = "Asia/Ho_Chi_Minh",
) -> Ticket:
    """Change the ticket's topic; its department follows, and so does its due time.

    The SLA belongs to the topic, so when the new topic's SLA differs the due time is
    recomputed from the call (not from now: the caller has been waiting since the call).
    """
    _ensure_not_closed(ticket)
    why = _reason(reason)
    topic = db.get(Topic, topic_id)
    if topic is None or not topic.active:
        raise UnknownTopic()
    if ticket.topic_id == topic.id:
        return ticket
    old_hours = ticket.topic.sla_hours if ticket.topic is not None else None
    _audit(
        db,
        ticket,
        action=Action.TOPIC,
        now=now,
        by=by,
        old=_code(ticket.topic),
        new=topic.code,
        reason=why,
    )
    ticket.topic = topic
    if ticket.suggested_topic_id == topic.id:
        _clear_suggestion(db, ticket, by=by, now=now, reason="đã đổi chủ đề theo gợi ý")
    if ticket.department_id != topic.department_id:
        reassign(db, ticket=ticket, department_id=topic.department_id, by=by, reason=why, now=now)
    if old_hours != topic.sla_hours or ticket.callback_due_at is None:
        cal = calendar if calendar is not None else load_calendar(db, timezone)
        _set_due(
            db,
            ticket,
            sla.callback_due(cal, ticket.called_at, topic.sla_hours),
            now=now,
            by=by,
            reason=f"chủ đề mới: {topic.sla_hours:g} giờ làm việc kể từ cuộc gọi",
        )
    db.flush()
    return ticket


def claim(db: Session, *, ticket: Ticket, user: User, now: datetime) -> Ticket:
    """Take the ticket's callback on oneself; a supervisor may take it from someone else."""
    _ensure_not_closed(ticket)
    _ensure_can_work(user, ticket)
    if ticket.owner_id == user.id:
        return ticket
    if ticket.owner_id is not None and not user.sees_all_departments:
        raise AlreadyClaimed(
            f"Phiếu đang do {ticket.owner.name if ticket.owner else '?'} phụ trách."
        )
    reason = "nhận phiếu" if ticket.owner_id is None else "giám sát viên nhận thay"
    _set_owner(db, ticket, user, now=now, by=user, reason=reason)
    db.flush()
    return ticket


def release(db: Session, *, ticket: Ticket, user: User, now: datetime) -> Ticket:
    """Give the callback back to the department's pool."""
    if ticket.owner_id is None:
        return ticket
    if ticket.owner_id != user.id and not user.sees_all_departments:
        raise NotOwner()
    _set_owner(db, ticket, None, now=now, by=user, reason="trả về nhóm chung")
    db.flush()
    return ticket


def add_note(db: Session, *, ticket: Ticket, user: User, body: str, now: datetime) -> TicketNote:
    """Add a free-text note to the ticket."""
    text = (body or "").strip()
    if not text:
        raise EmptyText()
    note = TicketNote(ticket=ticket, user=user, body=text, created_at=now, updated_at=now)
    db.add(note)
    _audit(db, ticket, action=Action.NOTE, now=now, by=user, new=text[:200])
    db.flush()
    return note


def correct_transcript(
    db: Session, *, transcript: Transcript, user: User, text: str, now: datetime
) -> Transcript:
    """Store an officer's correction beside the machine's text (which is kept unchanged).

    Enqueue "route_ticket" after committing: routing reads the corrected text, so the area,
    the callback number and the suggestion follow the correction.
    """
    corrected = (text or "").strip()
    if not corrected:
        raise EmptyText()
    if corrected == transcript.best_text:
        return transcript
    previous = transcript.best_text
    transcript.corrected_text = corrected
    transcript.corrected_by = user
    transcript.corrected_at = now
    ticket = transcript.recording.ticket
    _audit(
        db,
        ticket,
        action=Action.TRANSCRIPT,
        now=now,
        by=user,
        old=previous,
        new=corrected,
        reason="sửa bản ghi lời nhắn",
    )
    db.flush()
    return transcript


def resolve(
    db: Session,
    *,
    ticket: Ticket,
    user: User,
    note: str,
    now: datetime,
    policy: TicketPolicy | None = None,
) -> Ticket:
    """Close the ticket with the answer given; with `policy.resolved_sms`, text the caller."""
    _ensure_not_closed(ticket)
    _ensure_can_work(user, ticket)
    text = (note or "").strip()
    if not text:
        raise NoteRequired()
    ticket.resolution_note = text
    ticket.resolved_at = now
    ticket.resolved_by_id = user.id
    ticket.next_attempt_at = None
    _set_status(db, ticket, TicketStatus.RESOLVED, now=now, by=user, reason=text[:200])
    if policy is not None and policy.resolved_sms:
        queue_caller_sms(db, ticket=ticket, by=user, now=now, policy=policy)
    db.flush()
    return ticket


def return_to_pool(
    db: Session, *, ticket: Ticket, now: datetime, policy: TicketPolicy, due: datetime
) -> Ticket:
    """Take an overdue callback from its owner, give it to the pool, and tell the owner."""
    owner = ticket.owner
    if owner is None:
        return ticket
    minutes = policy.pool_return_minutes
    _set_owner(
        db,
        ticket,
        None,
        now=now,
        by=None,
        reason=f"quá hạn gọi lại {minutes} phút: trả về nhóm chung",
    )
    queue_notification(
        db,
        ticket=ticket,
        kind=Kind.RETURNED_TO_POOL,
        recipients=[owner],
        now=now,
        policy=policy,
        due=due,
    )
    db.flush()
    return ticket


# --- callbacks ---------------------------------------------------------------------------------


def _open_dial(ticket: Ticket, user: User, now: datetime) -> CallbackAttempt | None:
    """Return the user's click-to-call on this ticket that still waits for its outcome."""
    for attempt in reversed(ticket.attempts):
        if (
            attempt.outcome is AttemptOutcome.IN_PROGRESS
            and attempt.user_id == user.id
            and now - attempt.started_at <= _OPEN_DIAL_WINDOW
        ):
            return attempt
    return None


def _failures_since_reached(ticket: Ticket) -> int:
    failures = 0
    for attempt in ticket.attempts:
        if attempt.outcome in _REACHED:
            failures = 0
        elif attempt.outcome in _NOT_REACHED:
            failures += 1
    return failures


def log_attempt(
    db: Session,
    *,
    ticket: Ticket,
    user: User,
    outcome: AttemptOutcome,
    note: str,
    now: datetime,
    calendar: OfficeCalendar,
    policy: TicketPolicy,
    number_dialled: str | None = None,
) -> CallbackAttempt:
    """Record one try at calling back and move the ticket on.

    No answer, busy or a message left: the next try is scheduled inside office hours (the
    retry schedule), and after `max_attempts` such tries the ticket is *unreachable* and the
    supervisors are told. A wrong number moves to the ticket's other number if it has one.
    Reached with the question answered resolves the ticket (a note is required); reached
    with more to do makes it a follow-up. A click-to-call the same person started is completed
    rather than counted twice.
    """
    _ensure_not_closed(ticket)
    _ensure_can_work(user, ticket)
    if outcome is AttemptOutcome.IN_PROGRESS:
        raise InvalidOutcome()
    text = (note or "").strip()
    if outcome is AttemptOutcome.REACHED_RESOLVED and not text:
        raise NoteRequired()
    attempt = _open_dial(ticket, user, now)
    if attempt is None:
        number = normalize_phone(number_dialled) or ticket.callback_number or ticket.caller
        attempt = CallbackAttempt(
            ticket=ticket, user=user, started_at=now, number_dialled=number or None
        )
        db.add(attempt)
    _finish_attempt(
        db,
        ticket,
        attempt,
        outcome=outcome,
        note=text,
        user=user,
        now=now,
        calendar=calendar,
        policy=policy,
    )
    db.flush()
    return attempt


def _finish_attempt(
    db: Session,
    ticket: Ticket,
    attempt: CallbackAttempt,
    *,
    outcome: AttemptOutcome,
    note: str,
    user: User | None,
    now: datetime,
    calendar: OfficeCalendar,
    policy: TicketPolicy,
) -> None:
    attempt.outcome = outcome
    attempt.note = note
    attempt.ended_at = attempt.ended_at or now
    if ticket.first_callback_at is None:
        ticket.first_callback_at = attempt.started_at
    _audit(db, ticket, action=Action.ATTEMPT, now=now, by=user, new=outcome.value, reason=note)
    _apply_outcome(db, ticket, attempt, user=user, now=now, calendar=calendar, policy=policy)


def close_stale_dial(
    db: Session,
    *,
    attempt: CallbackAttempt,
    now: datetime,
    calendar: OfficeCalendar,
    policy: TicketPolicy,
) -> CallbackAttempt:
    """Log a click-to-call the caller did not answer, when nobody logged it (the sweep).

    Twilio told us the caller's leg was busy or unanswered; counting it keeps the retry
    schedule honest even when the staff member forgot to log the outcome.
    """
    outcome = AttemptOutcome.BUSY if attempt.twilio_status == "busy" else AttemptOutcome.NO_ANSWER
    note = "Tự động ghi theo trạng thái cuộc gọi của tổng đài"
    ticket = attempt.ticket
    if ticket.status.is_closed:
        attempt.outcome = outcome
        attempt.note = note
    else:
        _finish_attempt(
            db,
            ticket,
            attempt,
            outcome=outcome,
            note=note,
            user=None,
            now=now,
            calendar=calendar,
            policy=policy,
        )
    db.flush()
    return attempt


def _apply_outcome(
    db: Session,
    ticket: Ticket,
    attempt: CallbackAttempt,
    *,
    user: User | None,
    now: datetime,
    calendar: OfficeCalendar,
    policy: TicketPolicy,
) -> None:
    outcome = attempt.outcome
    if outcome is AttemptOutcome.REACHED_RESOLVED:
        assert user is not None  # the system never reaches a caller
        resolve(db, ticket=ticket, user=user, note=attempt.note, now=now, policy=policy)
        return
    if outcome is AttemptOutcome.REACHED_FOLLOW_UP:
        ticket.next_attempt_at = None
        _set_status(db, ticket, TicketStatus.FOLLOW_UP, now=now, by=user, reason=attempt.note)
        if ticket.owner_id is None and user is not None:
            _set_owner(db, ticket, user, now=now, by=user, reason="người gọi lại theo dõi tiếp")
        return
    if outcome is AttemptOutcome.WRONG_NUMBER:
        tried_wrong = {
            a.number_dialled for a in ticket.attempts if a.outcome is AttemptOutcome.WRONG_NUMBER
        }
        others = [n for n in (ticket.callback_number, ticket.caller) if n and n not in tried_wrong]
        if others:
            # The caller ID and the number said in the message differ: try the other one now.
            ticket.next_attempt_at = now
            _set_status(db, ticket, TicketStatus.OPEN, now=now, by=user, reason="sai số")
            return
        _make_unreachable(db, ticket, user=user, now=now, policy=policy, reason="sai số")
        return
    failures = _failures_since_reached(ticket)
    if failures >= policy.max_attempts:
        _make_unreachable(
            db,
            ticket,
            user=user,
            now=now,
            policy=policy,
            reason=f"không liên lạc được sau {failures} lần gọi",
        )
        return
    ticket.next_attempt_at = sla.next_attempt(calendar, now, failures, policy.retry_schedule)
    _set_status(db, ticket, TicketStatus.OPEN, now=now, by=user, reason="gọi lại lần sau")


def _make_unreachable(
    db: Session,
    ticket: Ticket,
    *,
    user: User | None,
    now: datetime,
    policy: TicketPolicy,
    reason: str,
) -> None:
    ticket.next_attempt_at = None
    was = ticket.status
    _set_status(db, ticket, TicketStatus.UNREACHABLE, now=now, by=user, reason=reason)
    if was is not TicketStatus.UNREACHABLE:
        queue_notification(
            db,
            ticket=ticket,
            kind=Kind.UNREACHABLE,
            recipients=supervisors_for(db, ticket.department_id),
            now=now,
            policy=policy,
            due_key=now.isoformat(),
            attempts=len([a for a in ticket.attempts if a.outcome in _NOT_REACHED]),
        )


class Dialer(Protocol):
    """Click-to-call: ring a staff member's phone, then connect them to the caller.

    The implementation (Twilio's REST API) announces the URLs that, when the staff member
    answers, fetch the TwiML dialling the number stored on attempt `attempt_id`, and that
    report the calls' status back. Returns the provider's id of the call (CallSid).
    """

    def call_staff(self, *, staff_phone: str, attempt_id: int) -> str: ...


def start_click_to_call(
    db: Session, *, ticket: Ticket, user: User, dialer: Dialer, now: datetime
) -> CallbackAttempt:
    """Ring the user's phone and connect them to the caller; return the attempt in progress.

    The attempt is flushed first (its id is in the URLs Twilio calls back), then the call is
    placed. If placing fails, `DialFailed` is raised and the caller should roll back. A second
    click while a call is starting returns the same attempt instead of ringing twice.
    """
    _ensure_not_closed(ticket)
    _ensure_can_work(user, ticket)
    staff_phone = normalize_phone(user.phone)
    if staff_phone is None:
        raise NoStaffPhone()
    number = normalize_phone(ticket.callback_number) or normalize_phone(ticket.caller)
    if number is None:
        raise NoCallbackNumber()
    pending = _open_dial(ticket, user, now)
    if (
        pending is not None
        and pending.ended_at is None
        and now - pending.started_at < timedelta(minutes=2)
    ):
        return pending
    attempt = CallbackAttempt(
        ticket=ticket,
        user=user,
        started_at=now,
        outcome=AttemptOutcome.IN_PROGRESS,
        number_dialled=number,
        twilio_status="queued",
    )
    db.add(attempt)
    db.flush()
    try:
        sid = dialer.call_staff(staff_phone=staff_phone, attempt_id=attempt.id)
    except Exception as exc:  # the provider's errors are many (HTTP, auth, number); one answer
        log.warning("click-to-call for ticket %s failed: %s", ticket.number, exc)
        raise DialFailed() from exc
    attempt.twilio_call_sid = sid
    if ticket.first_callback_at is None:
        ticket.first_callback_at = now
    _audit(db, ticket, action=Action.CLICK_TO_CALL, now=now, by=user, new=sid)
    db.flush()
    return attempt


def dial_target(db: Session, *, attempt_id: int, call_sid: str) -> str | None:
    """Return the number to connect for a click-to-call, or None if the call is not ours.

    Twilio asks for this when the staff member answers; only an attempt still in progress,
    and only for the call we placed for it, gets a number.
    """
    attempt = db.get(CallbackAttempt, attempt_id)
    if attempt is None or attempt.outcome is not AttemptOutcome.IN_PROGRESS:
        return None
    if attempt.twilio_call_sid is not None and attempt.twilio_call_sid != call_sid:
        return None
    return attempt.number_dialled


# Twilio's final call statuses (https://www.twilio.com/docs/voice/api/call-resource).
_FINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


def _attempt_for_call(db: Session, attempt_id: int, call_sid: str) -> CallbackAttempt | None:
    """Return the attempt a Twilio callback is about, unless it names another call."""
    attempt = db.get(CallbackAttempt, attempt_id)
    if attempt is None or attempt.twilio_call_sid not in (None, call_sid):
        return None
    return attempt


def record_dial_result(
    db: Session,
    *,
    attempt_id: int,
    call_sid: str,
    status: str,
    duration_s: int | None,
    now: datetime,
) -> CallbackAttempt | None:
    """Log the caller's leg of a click-to-call: answered or not, and how long they talked."""
    attempt = _attempt_for_call(db, attempt_id, call_sid)
    if attempt is None:
        return None
    attempt.twilio_status = status
    # Dial's "completed" means the caller picked up; busy, no-answer, failed mean they did not.
    attempt.answered = status == "completed"
    attempt.duration_s = duration_s or 0
    attempt.ended_at = attempt.ended_at or now
    db.flush()
    return attempt


def record_staff_leg(
    db: Session,
    *,
    attempt_id: int,
    call_sid: str,
    status: str,
    duration_s: int | None,
    now: datetime,
) -> CallbackAttempt | None:
    """Log the status Twilio reports for the staff member's leg (the call we placed)."""
    attempt = _attempt_for_call(db, attempt_id, call_sid)
    if attempt is None:
        return None
    if attempt.answered is None:
        # No result for the caller's leg yet: the staff leg's status is the best we know
        # ("ringing", "in-progress", or "staff-no-answer": the staff phone never connected).
        attempt.twilio_status = f"staff-{status}" if status in _FINAL else status
    if status in _FINAL:
        attempt.ended_at = attempt.ended_at or now
    db.flush()
    return attempt


def mark_read(
    db: Session, *, user: User, now: datetime, notification_ids: Sequence[int] | None = None
) -> int:
    """Mark the user's in-app notifications read (all, or those ids); return how many."""
    stmt = (
        update(Notification)
        .where(
            Notification.user_id == user.id,
            Notification.channel == INAPP,
            Notification.read_at.is_(None),
        )
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    if notification_ids is not None:
        stmt = stmt.where(Notification.id.in_(list(notification_ids)))
    result = db.execute(stmt)
    db.flush()
    return int(cast(CursorResult[Any], result).rowcount)


# --- the callback queue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueEntry:
    """One line of the callback queue."""

    ticket: Ticket
    due_at: datetime | None
    overdue: bool
    in_pool: bool


def callback_queue(db: Session, *, user: User, now: datetime, limit: int = 100) -> list[QueueEntry]:
    """Return the callbacks `user` should make, most urgent first.

    Officers and callback staff see their departments' pool tickets and their own; supervisors
    and admins see every open callback, and the unreachable tickets waiting for their decision.
    Ordered by due time (the next attempt time after no answer), then call time; overdue
    items come first because they are due earliest; follow-ups without a date come last.
    """
    due_expr = case(
        (Ticket.status == TicketStatus.UNREACHABLE, null()),
        (Ticket.status == TicketStatus.FOLLOW_UP, Ticket.next_attempt_at),
        else_=func.coalesce(Ticket.next_attempt_at, Ticket.callback_due_at),
    )
    statuses = [TicketStatus.OPEN, TicketStatus.FOLLOW_UP]
    if user.role in (Role.SUPERVISOR, Role.ADMIN):
        statuses.append(TicketStatus.UNREACHABLE)
    stmt = (
        select(Ticket)
        .where(Ticket.status.in_(statuses), Ticket.number.is_not(None), visible_to(user))
        .options(
            selectinload(Ticket.topic),
            selectinload(Ticket.department),
            selectinload(Ticket.owner),
            selectinload(Ticket.area),
        )
        .order_by(nulls_last(due_expr.asc()), Ticket.called_at.asc(), Ticket.id.asc())
        .limit(limit)
    )
    if not user.sees_all_departments:
        stmt = stmt.where(or_(Ticket.owner_id.is_(None), Ticket.owner_id == user.id))
    entries = []
    for ticket in db.scalars(stmt):
        due = None if ticket.status is TicketStatus.UNREACHABLE else _queue_due(ticket)
        entries.append(
            QueueEntry(
                ticket=ticket,
                due_at=due,
                overdue=due is not None and due <= now,
                in_pool=ticket.owner_id is None,
            )
        )
    return entries


def _queue_due(ticket: Ticket) -> datetime | None:
    if ticket.status is TicketStatus.FOLLOW_UP:
        return ticket.next_attempt_at
    return due_at(ticket)
