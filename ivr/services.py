"""What the phone line does to the database: calls, tickets, recordings.

Plain functions, session first, keyword-only options; they flush and never commit (the view
commits once per request). Every function is idempotent on Twilio's SIDs, backed by the unique
constraints on calls.call_sid and recordings.recording_sid, because Twilio retries webhooks and
may deliver the call status and recording callbacks in any order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from ivr.menu import RESERVED_KEYS, Choice, MenuOption, MenuState, Step, next_step
from ivr.params import CALL_TERMINAL_STATUSES, RecordingParams
from ivr.prompts import OfficeStatus
from storage.models import (
    AuditEvent,
    Call,
    CallState,
    Holiday,
    Recording,
    RecordingStatus,
    Ticket,
    TicketKind,
    TicketStatus,
    Topic,
)
from tickets.calendar import CalendarError, OfficeCalendar, load_calendar
from tickets.numbering import ticket_number

log = logging.getLogger(__name__)

SHORT_CALL_REASON = "Cuộc gọi quá ngắn"


# --- the office calendar ------------------------------------------------------------------------


def office_calendar(db: Session, *, tz_name: str) -> OfficeCalendar | None:
    """Return the office calendar, or None (logged) when it is not configured.

    A broken calendar must not cost a caller's message: the call goes on as if the office were
    open, without a promised callback time.
    """
    try:
        return load_calendar(db, tz_name)
    except (CalendarError, ZoneInfoNotFoundError):
        log.exception("office calendar unusable; answering calls as if the office were open")
        return None


def office_status(db: Session, *, calendar: OfficeCalendar | None, now: datetime) -> OfficeStatus:
    """Say whether the office is open at `now`, and if not, why and when it opens."""
    if calendar is None or calendar.is_open(now):
        return OfficeStatus(is_open=True)
    local = now.astimezone(calendar.tz)
    holiday = None
    if calendar.is_holiday(local.date()):
        holiday = db.scalar(select(Holiday).where(Holiday.day == local.date()))
    periods = calendar.periods_on(local.date())
    lunch = bool(periods) and periods[0][0] <= local.time() < periods[-1][1]
    try:
        next_opening: datetime | None = calendar.next_opening(now)
    except CalendarError:
        next_opening = None
    return OfficeStatus(
        is_open=False,
        holiday_vi=holiday.name_vi if holiday else None,
        holiday_en=holiday.name_en if holiday else None,
        lunch_break=lunch,
        next_opening=next_opening,
    )


# --- calls and their tickets --------------------------------------------------------------------


def find_call(db: Session, call_sid: str) -> Call | None:
    """Return the call with Twilio's `call_sid` and its ticket, if we have seen it."""
    # Every webhook needs both: one statement instead of two.
    return db.scalar(select(Call).options(joinedload(Call.ticket)).where(Call.call_sid == call_sid))


def open_call(
    db: Session,
    *,
    call_sid: str,
    caller: str,
    called: str,
    now: datetime,
    calendar: OfficeCalendar | None,
) -> Call:
    """Return the call and its ticket, creating both on the first webhook Twilio sends for it."""
    call = find_call(db, call_sid)
    if call is not None:
        return call
    return _create_call(
        db, call_sid=call_sid, caller=caller, called=called, now=now, calendar=calendar
    )


def _create_call(
    db: Session,
    *,
    call_sid: str,
    caller: str,
    called: str,
    now: datetime,
    calendar: OfficeCalendar | None,
) -> Call:
    after_hours = calendar is not None and not calendar.is_open(now)
    try:
        # A savepoint: when a concurrent request inserted the same CallSid first, only this
        # insert is undone and the rest of the request's transaction goes on with their row.
        with db.begin_nested():
            call = Call(
                call_sid=call_sid,
                from_number=caller,
                to_number=called,
                started_at=now,
                after_hours=after_hours,
            )
            db.add(call)
            db.flush()
            ticket = Ticket(
                call_id=call.id,
                caller=caller,
                called_at=now,
                kind=TicketKind.MISSED_CALL,
                status=TicketStatus.IN_CALL,
            )
            db.add(ticket)
            db.flush()
            # The number is a permutation of the row id: unique without a lookup, so its
            # UPDATE can wait for the request's next flush.
            ticket.number = ticket_number(ticket.id)
            # call.ticket without the SELECT that loading the relationship would send.
            set_committed_value(call, "ticket", ticket)
    except IntegrityError:
        existing = find_call(db, call_sid)
        if existing is None:
            raise
        log.info("call %s was opened by a concurrent request; using that row", call_sid)
        return existing
    log.info("call %s from %s: ticket %s opened", call_sid, caller or "?", ticket.number)
    return call


def ticket_of(call: Call) -> Ticket:
    """Return the call's ticket (every call gets one when it is opened)."""
    ticket = call.ticket
    if ticket is None:  # only a call row written by something other than open_call
        raise LookupError(f"call {call.call_sid} has no ticket")
    return ticket


# --- the menu -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MenuTopic:
    """What the call flow needs of a topic: plain values, cacheable across requests."""

    id: int
    code: str
    name_vi: str
    name_en: str
    department_id: int


@dataclass(frozen=True)
class Keypad:
    options: list[MenuOption]
    topics: dict[str, MenuTopic]
    fallback: MenuTopic | None


def load_keypad(db: Session) -> Keypad:
    """Return the menu's topics by key, and the "anything else" topic."""
    topics: dict[str, MenuTopic] = {}
    options: list[MenuOption] = []
    fallback: MenuTopic | None = None
    for topic in db.scalars(select(Topic).where(Topic.active.is_(True)).order_by(Topic.sort_order)):
        entry = MenuTopic(
            id=topic.id,
            code=topic.code,
            name_vi=topic.name_vi,
            name_en=topic.name_en,
            department_id=topic.department_id,
        )
        if topic.is_fallback and fallback is None:
            fallback = entry
        if topic.digit is None:
            continue
        if topic.digit in RESERVED_KEYS:
            log.warning(
                "topic %s is on reserved key %r; left off the menu", topic.code, topic.digit
            )
            continue
        if topic.digit in topics:
            continue
        topics[topic.digit] = entry
        options.append(
            MenuOption(
                digit=topic.digit,
                name_vi=topic.name_vi,
                name_en=topic.name_en,
                prompt_vi=topic.prompt_vi,
                prompt_en=topic.prompt_en,
            )
        )
    return Keypad(options=options, topics=topics, fallback=fallback)


@dataclass(frozen=True)
class MenuOutcome:
    step: Step
    # The topic the message is taken under, for Choice.TOPIC and Choice.FALLBACK.
    topic: MenuTopic | None
    # True when the request repeats one already answered: nothing was written.
    replay: bool


def handle_menu_input(
    db: Session,
    *,
    call: Call,
    attempt: int,
    digits: str | None,
    keypad: Keypad,
    max_tries: int,
    now: datetime,
) -> MenuOutcome:
    """Apply the caller's key (or silence) at menu `attempt`; return what happens next.

    `attempt` comes from the action URL, so a retried request for an earlier attempt is
    recognised and answered the same way without counting a second try.
    """
    replay = attempt < call.menu_tries
    state = MenuState(tries=attempt if replay else call.menu_tries, language=call.language)
    step = next_step(state, digits, topic_digits=keypad.topics.keys(), max_tries=max_tries)
    topic: MenuTopic | None = None
    if step.choice == Choice.TOPIC and step.digit is not None:
        topic = keypad.topics[step.digit]
    elif step.choice == Choice.FALLBACK:
        topic = keypad.fallback
    if replay:
        return MenuOutcome(step, topic, replay=True)

    call.menu_tries = step.state.tries
    ticket = ticket_of(call)
    if step.state.language != call.language:
        call.language = ticket.language = step.state.language
    if step.choice == Choice.TOPIC and topic is not None:
        _take_message_under(call, ticket, topic, f"Bàn phím: phím {step.digit} ({topic.name_vi})")
    elif step.choice == Choice.FALLBACK:
        reason = f"Không chọn được mục sau {step.state.tries} lần"
        if topic is not None:
            reason += f": {topic.name_vi}"
        _take_message_under(call, ticket, topic, reason)
    db.flush()
    return MenuOutcome(step, topic, replay=False)


def _take_message_under(call: Call, ticket: Ticket, topic: MenuTopic | None, reason: str) -> None:
    call.state = CallState.RECORDING
    # Ids, not relationships: the keypad's topics are cached values, not this session's rows.
    call.topic_id = ticket.topic_id = topic.id if topic is not None else None
    ticket.department_id = topic.department_id if topic is not None else None
    ticket.routing_reason = reason


# --- the message --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Farewell:
    ticket: Ticket
    has_message: bool
    # False when this request repeats a record action already answered.
    first_time: bool


def finish_message(
    db: Session,
    *,
    call: Call,
    recording: RecordingParams | None,
    now: datetime,
    calendar: OfficeCalendar | None,
    default_sla_hours: float,
) -> Farewell:
    """Close the caller's turn after <Record>: keep the message if any, open the ticket.

    Twilio calls this when the caller pressed # or the recording ended; without a recording
    (silence) it arrives through the Redirect after <Record>.
    """
    first_time = call.state in (CallState.MENU, CallState.RECORDING)
    if call.state != CallState.ENDED:
        call.state = CallState.RECORDED
    ticket = ticket_of(call)
    # A recording of no length is what silence leaves; the "absent" callback will follow.
    has_message = False
    if recording is not None and recording.duration_s != 0:
        row = register_recording(
            db,
            call=call,
            recording=recording,
            now=now,
            calendar=calendar,
            default_sla_hours=default_sla_hours,
        )
        has_message = row.call_id == call.id
    if not has_message:
        has_message = _has_recording(db, call)
    if not has_message:
        _open_ticket(
            db,
            ticket,
            message=False,
            now=now,
            calendar=calendar,
            default_sla_hours=default_sla_hours,
            reason="Người gọi không để lại lời nhắn",
        )
    db.flush()
    return Farewell(ticket=ticket, has_message=has_message, first_time=first_time)


def register_recording(
    db: Session,
    *,
    call: Call,
    recording: RecordingParams,
    now: datetime,
    calendar: OfficeCalendar | None,
    default_sla_hours: float,
) -> Recording:
    """Keep the recording (once per RecordingSid) and make the ticket a message to call back."""
    row = db.scalar(select(Recording).where(Recording.recording_sid == recording.sid))
    ticket = ticket_of(call)
    if row is None:
        row = _insert_recording(db, call=call, ticket=ticket, recording=recording)
    elif row.twilio_duration_s is None and recording.duration_s is not None:
        row.twilio_duration_s = recording.duration_s
    if row.call_id != call.id:
        log.warning(
            "recording %s belongs to another call than %s; left as it is",
            recording.sid,
            call.call_sid,
        )
        return row
    _open_ticket(
        db,
        ticket,
        message=True,
        now=now,
        calendar=calendar,
        default_sla_hours=default_sla_hours,
        reason="Người gọi đã để lại lời nhắn",
    )
    db.flush()
    return row


def _insert_recording(
    db: Session, *, call: Call, ticket: Ticket, recording: RecordingParams
) -> Recording:
    try:
        with db.begin_nested():
            row = Recording(
                recording_sid=recording.sid,
                call_id=call.id,
                ticket_id=ticket.id,
                source_url=recording.url,
                twilio_duration_s=recording.duration_s,
                status=RecordingStatus.PENDING,
            )
            db.add(row)
            db.flush()
    except IntegrityError:
        existing = db.scalar(select(Recording).where(Recording.recording_sid == recording.sid))
        if existing is None:
            raise
        return existing
    log.info(
        "recording %s of call %s kept (ticket %s)", recording.sid, call.call_sid, ticket.number
    )
    return row


def recording_status(
    db: Session,
    *,
    call: Call,
    status: str,
    recording: RecordingParams | None,
    now: datetime,
    calendar: OfficeCalendar | None,
    default_sla_hours: float,
) -> Recording | None:
    """Apply Twilio's recording status callback; return the recording to process, if any."""
    if status == "completed" and recording is not None:
        return register_recording(
            db,
            call=call,
            recording=recording,
            now=now,
            calendar=calendar,
            default_sla_hours=default_sla_hours,
        )
    if status in ("absent", "failed"):
        # Silence, too short, or lost at Twilio: a missed call, unless another recording of
        # the same call made it.
        log.info("recording of call %s is %s", call.call_sid, status)
        if call.state == CallState.RECORDING:
            call.state = CallState.RECORDED
        if not _has_recording(db, call):
            _open_ticket(
                db,
                ticket_of(call),
                message=False,
                now=now,
                calendar=calendar,
                default_sla_hours=default_sla_hours,
                reason=f"Không có lời nhắn (bản ghi {status})",
            )
        db.flush()
    return None


# --- the end of the call ------------------------------------------------------------------------


def end_call(
    db: Session,
    *,
    call: Call,
    status: str,
    duration_s: int | None,
    now: datetime,
    calendar: OfficeCalendar | None,
    default_sla_hours: float,
    missed_call_min_seconds: int,
) -> None:
    """Apply Twilio's call status callback: a call that ended without a message is a missed call.

    A call shorter than `missed_call_min_seconds` that never got past the menu (a misdial, a
    pocket call) is closed at once as RESOLVED with a reason: out of the callback queue but
    still counted in the reports. A message that turns up later reopens it.
    """
    if status not in CALL_TERMINAL_STATUSES:
        if call.ended_at is None:
            call.twilio_status = status
        return
    if call.ended_at is not None:
        return  # a replay: the first report of the end stands
    state_before = call.state
    call.ended_at = now
    call.duration_s = (
        duration_s
        if duration_s is not None
        else max(0, int((now - call.started_at).total_seconds()))
    )
    call.state = CallState.ENDED
    call.twilio_status = status
    ticket = ticket_of(call)
    if ticket.status != TicketStatus.IN_CALL or _has_recording(db, call):
        db.flush()
        return
    if state_before == CallState.MENU and call.duration_s < missed_call_min_seconds:
        _set_status(
            db,
            ticket,
            TicketStatus.RESOLVED,
            now=now,
            reason=f"{SHORT_CALL_REASON} ({call.duration_s} giây): không cần gọi lại",
        )
        ticket.routing_reason = SHORT_CALL_REASON
        ticket.resolved_at = now
        ticket.resolution_note = (
            f"Cuộc gọi dưới {missed_call_min_seconds} giây, người gọi gác máy trước khi chọn "
            "mục: hệ thống tự đóng phiếu, không cần gọi lại."
        )
    else:
        _open_ticket(
            db,
            ticket,
            message=False,
            now=now,
            calendar=calendar,
            default_sla_hours=default_sla_hours,
            reason=f"Cuộc gọi kết thúc ({status}) không có lời nhắn",
        )
    db.flush()


# --- helpers ------------------------------------------------------------------------------------


def _has_recording(db: Session, call: Call) -> bool:
    return db.scalar(select(Recording.id).where(Recording.call_id == call.id).limit(1)) is not None


def _open_ticket(
    db: Session,
    ticket: Ticket,
    *,
    message: bool,
    now: datetime,
    calendar: OfficeCalendar | None,
    default_sla_hours: float,
    reason: str,
) -> None:
    """Put the ticket in the callback queue (once), as a message or a missed call."""
    if message and ticket.kind != TicketKind.MESSAGE:
        if ticket.status != TicketStatus.IN_CALL:  # it was queued as a missed call already
            db.add(
                AuditEvent(
                    ticket_id=ticket.id,
                    at=now,
                    action="kind_changed",
                    from_value=ticket.kind.value,
                    to_value=TicketKind.MESSAGE.value,
                    reason=reason,
                )
            )
        ticket.kind = TicketKind.MESSAGE
    system_closed = (
        ticket.status == TicketStatus.RESOLVED
        and ticket.resolved_by_id is None
        and ticket.routing_reason == SHORT_CALL_REASON
    )
    if ticket.status != TicketStatus.IN_CALL and not (message and system_closed):
        return
    if system_closed:
        ticket.resolved_at = None
        ticket.resolution_note = None
        ticket.routing_reason = ""
    if ticket.topic_id is None:
        # Hung up before choosing: the "anything else" desk calls back until routing knows better.
        fallback = db.scalar(
            select(Topic).where(Topic.is_fallback.is_(True), Topic.active.is_(True)).limit(1)
        )
        if fallback is not None:
            ticket.topic = fallback
            ticket.department_id = fallback.department_id
            ticket.routing_reason = f"Chưa chọn mục: {fallback.name_vi}"
    _set_status(db, ticket, TicketStatus.OPEN, now=now, reason=reason)
    schedule_callback(db, ticket, calendar=calendar, default_sla_hours=default_sla_hours)


def schedule_callback(
    db: Session, ticket: Ticket, *, calendar: OfficeCalendar | None, default_sla_hours: float
) -> None:
    """Set when the callback is due: the topic's SLA in office hours from the call (once)."""
    if ticket.callback_due_at is not None or calendar is None:
        return
    with db.no_autoflush:
        # Loading the topic must not flush the ticket's pending changes early: one UPDATE
        # for the whole request instead of two.
        topic = ticket.topic
    hours = topic.sla_hours if topic is not None else default_sla_hours
    try:
        ticket.callback_due_at = calendar.add_working_hours(ticket.called_at, hours)
    except CalendarError:
        log.exception("no callback time for ticket %s: the calendar has no opening", ticket.number)


def _set_status(
    db: Session, ticket: Ticket, status: TicketStatus, *, now: datetime, reason: str
) -> None:
    if ticket.status == status:
        return
    db.add(
        AuditEvent(
            ticket_id=ticket.id,
            at=now,
            action="status_changed",
            from_value=ticket.status.value,
            to_value=status.value,
            reason=reason,
        )
    )
    ticket.status = status
