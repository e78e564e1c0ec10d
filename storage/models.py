"""The hotline's data: typed SQLAlchemy 2.0 models.

Every datetime is stored in UTC (timezone-aware in Python, see `UTCDateTime`) and named `*_at`.
Status columns are explicit enums; the row's status is the truth and the task queue is only a
wake-up call (ARCHITECTURE.md, section 4).
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names, so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime stored as UTC and always returned timezone-aware.

    SQLite has no time zones and drops the offset; PostgreSQL keeps it. Normalising here means
    domain code can compare datetimes from either database without surprises.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


def _enum(cls: type[enum.Enum]) -> Enum:
    # Store the enum's value (lower-case words) as a plain string column: readable in SQL and
    # free of PostgreSQL ENUM types that would need their own migrations.
    return Enum(
        cls,
        values_callable=lambda members: [m.value for m in members],
        native_enum=False,
        length=32,
        validate_strings=True,
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- reference data: departments, topics, areas, the office calendar -------------------------


class Department(TimestampMixin, Base):
    """A provincial department (Sở, cơ quan) that answers a kind of question."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_vi: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    topics: Mapped[list[Topic]] = relationship(back_populates="department")

    def __repr__(self) -> str:
        return f"<Department {self.code}>"


class Topic(TimestampMixin, Base):
    """A subject a caller picks on the keypad; decides the department and the SLA."""

    __tablename__ = "topics"
    __table_args__ = (
        CheckConstraint("sla_hours > 0", name="sla_positive"),
        CheckConstraint("digit IS NULL OR length(digit) = 1", name="digit_single"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    # The keypad key, "0".."9"; NULL for topics reachable only by transcript routing.
    digit: Mapped[str | None] = mapped_column(String(1), unique=True)
    name_vi: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    # What the IVR says for this option, e.g. "Về thuế, xin bấm phím 1."; empty: built from name.
    prompt_vi: Mapped[str] = mapped_column(Text, default="")
    prompt_en: Mapped[str] = mapped_column(Text, default="")
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    sla_hours: Mapped[float] = mapped_column(Float, default=4.0)
    # Words that point to this topic in a transcript; matched with case and diacritics folded.
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    # The "anything else" topic: used when the caller picks nothing or keeps pressing wrong keys.
    is_fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    department: Mapped[Department] = relationship(back_populates="topics")

    def __repr__(self) -> str:
        return f"<Topic {self.digit} {self.code}>"


class Area(Base):
    """A place name callers use (former district or town, commune, ward)."""

    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40), default="area")
    # Other spellings and old names, e.g. "TP Bắc Ninh", "huyện Quế Võ".
    aliases: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class OfficeHours(Base):
    """One opening period on a weekday (0 = Monday), local time of the office."""

    __tablename__ = "office_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("opens_at < closes_at", name="opens_before_closes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    weekday: Mapped[int] = mapped_column(Integer)
    opens_at: Mapped[time] = mapped_column(Time)
    closes_at: Mapped[time] = mapped_column(Time)


class Holiday(Base):
    """A public holiday (no office hours that day), or a swapped working day."""

    __tablename__ = "holidays"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    name_vi: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    # Vietnam sometimes moves a working day onto a Saturday to bridge a holiday: such a day is
    # stored with is_working_day=True and gets Monday's office hours.
    is_working_day: Mapped[bool] = mapped_column(Boolean, default=False)


# --- people ------------------------------------------------------------------------------------


class Role(enum.StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    OFFICER = "officer"
    CALLBACK_STAFF = "callback_staff"


user_departments = Table(
    "user_departments",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True),
)


class User(TimestampMixin, Base):
    """A person who works the hotline's tickets."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role))
    password_hash: Mapped[str] = mapped_column(String(300))
    # The staff member's own phone: click-to-call rings it first.
    phone: Mapped[str | None] = mapped_column(String(32))
    # sha256 of the API bearer token; the token itself is shown once and never stored.
    api_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    last_login_at: Mapped[datetime | None] = mapped_column()

    departments: Mapped[list[Department]] = relationship(secondary=user_departments)

    @property
    def sees_all_departments(self) -> bool:
        return self.role in (Role.ADMIN, Role.SUPERVISOR)

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role.value}>"


# --- calls, tickets, recordings, transcripts ----------------------------------------------------


class Language(enum.StrEnum):
    VI = "vi"
    EN = "en"


class CallState(enum.StrEnum):
    MENU = "menu"  # hearing the greeting and the topic menu
    RECORDING = "recording"  # told to leave a message; <Record> is running
    RECORDED = "recorded"  # the message is in; goodbye said
    ENDED = "ended"  # Twilio reported the call over


class Call(TimestampMixin, Base):
    """One inbound call, keyed on Twilio's CallSid."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_number: Mapped[str] = mapped_column(String(32), default="")
    to_number: Mapped[str] = mapped_column(String(32), default="")
    language: Mapped[Language] = mapped_column(_enum(Language), default=Language.VI)
    state: Mapped[CallState] = mapped_column(_enum(CallState), default=CallState.MENU)
    # Wrong or missing key presses so far; after the limit the message goes to "anything else".
    menu_tries: Mapped[int] = mapped_column(Integer, default=0)
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"))
    after_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()
    duration_s: Mapped[int | None] = mapped_column(Integer)
    twilio_status: Mapped[str | None] = mapped_column(String(32))

    topic: Mapped[Topic | None] = relationship()
    ticket: Mapped[Ticket | None] = relationship(back_populates="call", uselist=False)
    recordings: Mapped[list[Recording]] = relationship(back_populates="call")


class TicketKind(enum.StrEnum):
    MESSAGE = "message"  # the caller left a voicemail
    MISSED_CALL = "missed_call"  # the call ended without a usable message


class TicketStatus(enum.StrEnum):
    IN_CALL = "in_call"  # the call is still under way; not in the queue yet
    OPEN = "open"  # waiting for a callback
    FOLLOW_UP = "follow_up"  # reached, more work needed
    RESOLVED = "resolved"
    UNREACHABLE = "unreachable"  # max attempts used up; a supervisor decides

    @property
    def is_closed(self) -> bool:
        return self in (TicketStatus.RESOLVED,)


class Ticket(TimestampMixin, Base):
    """The unit of work: one call, one question, one callback to make."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_queue", "status", "callback_due_at"),
        Index("ix_tickets_caller", "caller"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Digits only, read to the caller; see ivr or tickets numbering. NULL only inside the flush
    # that creates the ticket.
    number: Mapped[str | None] = mapped_column(String(12), unique=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), unique=True)
    kind: Mapped[TicketKind] = mapped_column(_enum(TicketKind), default=TicketKind.MISSED_CALL)
    status: Mapped[TicketStatus] = mapped_column(_enum(TicketStatus), default=TicketStatus.IN_CALL)
    language: Mapped[Language] = mapped_column(_enum(Language), default=Language.VI)
    # Caller ID as Twilio gave it (E.164 when known) and its normalised form for linking.
    caller: Mapped[str] = mapped_column(String(32), default="")
    # A number the caller spoke in the message, normalised; preferred for the callback.
    callback_number: Mapped[str | None] = mapped_column(String(32))
    business_name: Mapped[str | None] = mapped_column(String(300))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    # Why the ticket went where it went, e.g. "keypad 1" or "transcript: thuế, hóa đơn".
    routing_reason: Mapped[str] = mapped_column(Text, default="")
    # When the transcript points to another topic than the keypad choice.
    suggested_topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"))
    suggestion_reason: Mapped[str | None] = mapped_column(Text)
    called_at: Mapped[datetime] = mapped_column(default=utcnow)
    callback_due_at: Mapped[datetime | None] = mapped_column()
    # Next time to try after a no-answer or busy; the queue orders by this when set.
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime | None] = mapped_column()
    resolution_note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    first_callback_at: Mapped[datetime | None] = mapped_column()
    # Folded words of caller, business, transcripts and notes; see storage/search.py.
    search_text: Mapped[str] = mapped_column(Text, default="")

    call: Mapped[Call | None] = relationship(back_populates="ticket")
    topic: Mapped[Topic | None] = relationship(foreign_keys=[topic_id])
    suggested_topic: Mapped[Topic | None] = relationship(foreign_keys=[suggested_topic_id])
    department: Mapped[Department | None] = relationship()
    area: Mapped[Area | None] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    recordings: Mapped[list[Recording]] = relationship(
        back_populates="ticket", order_by="Recording.id"
    )
    attempts: Mapped[list[CallbackAttempt]] = relationship(
        back_populates="ticket", order_by="CallbackAttempt.id"
    )
    notes: Mapped[list[TicketNote]] = relationship(
        back_populates="ticket", order_by="TicketNote.id"
    )
    events: Mapped[list[AuditEvent]] = relationship(
        back_populates="ticket", order_by="AuditEvent.id"
    )

    def __repr__(self) -> str:
        return f"<Ticket {self.number} {self.status.value}>"


class RecordingStatus(enum.StrEnum):
    PENDING = "pending"  # Twilio said it is complete; not downloaded yet
    DOWNLOADING = "downloading"  # a worker claimed the download
    STORED = "stored"  # audio is in our store, verified; waiting for transcription
    TRANSCRIBING = "transcribing"  # a worker claimed the transcription
    TRANSCRIBED = "transcribed"  # done
    FAILED = "failed"  # retries used up; `error` says why; an officer may retry

    @property
    def is_in_progress(self) -> bool:
        return self in (RecordingStatus.DOWNLOADING, RecordingStatus.TRANSCRIBING)


class Recording(TimestampMixin, Base):
    """A voicemail, keyed on Twilio's RecordingSid."""

    __tablename__ = "recordings"
    __table_args__ = (Index("ix_recordings_status", "status", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_sid: Mapped[str] = mapped_column(String(64), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    # Twilio's RecordingUrl, without extension; the worker appends ".wav".
    source_url: Mapped[str] = mapped_column(Text)
    twilio_duration_s: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[RecordingStatus] = mapped_column(
        _enum(RecordingStatus), default=RecordingStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # Who holds the claim and since when; a stale claim is a killed worker (see the sweep).
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column()
    # Where the audio store keeps the file (a key, not a path) and what was stored.
    audio_key: Mapped[str | None] = mapped_column(String(300))
    audio_sha256: Mapped[str | None] = mapped_column(String(64))
    audio_bytes: Mapped[int | None] = mapped_column(Integer)
    audio_duration_s: Mapped[float | None] = mapped_column(Float)
    content_type: Mapped[str | None] = mapped_column(String(60))
    stored_at: Mapped[datetime | None] = mapped_column()
    deleted_at_twilio_at: Mapped[datetime | None] = mapped_column()
    purged_at: Mapped[datetime | None] = mapped_column()

    call: Mapped[Call] = relationship(back_populates="recordings")
    ticket: Mapped[Ticket] = relationship(back_populates="recordings")
    transcript: Mapped[Transcript | None] = relationship(back_populates="recording", uselist=False)


class Confidence(enum.StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NO_SPEECH = "no_speech"


class Transcript(TimestampMixin, Base):
    """What Whisper heard in a recording, with timed segments, and an officer's correction."""

    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), unique=True)
    text: Mapped[str] = mapped_column(Text, default="")
    # [{"start": s, "end": s, "text": str, "avg_logprob": f, "no_speech_prob": f, "low": bool}]
    segments: Mapped[list[Any]] = mapped_column(default=list)
    language: Mapped[str] = mapped_column(String(8), default="vi")
    engine: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(200))
    processing_s: Mapped[float] = mapped_column(Float, default=0.0)
    audio_duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    confidence: Mapped[Confidence] = mapped_column(_enum(Confidence), default=Confidence.LOW)
    no_speech: Mapped[bool] = mapped_column(Boolean, default=False)
    # The officer's corrected text; the machine's `text` is kept unchanged beside it.
    corrected_text: Mapped[str | None] = mapped_column(Text)
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    corrected_at: Mapped[datetime | None] = mapped_column()

    recording: Mapped[Recording] = relationship(back_populates="transcript")
    corrected_by: Mapped[User | None] = relationship()

    @property
    def best_text(self) -> str:
        return self.corrected_text if self.corrected_text is not None else self.text


# --- the work on a ticket -------------------------------------------------------------------------


class AttemptOutcome(enum.StrEnum):
    REACHED_RESOLVED = "reached_resolved"
    REACHED_FOLLOW_UP = "reached_follow_up"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    WRONG_NUMBER = "wrong_number"
    LEFT_MESSAGE = "left_message"
    # A click-to-call placed through Twilio whose outcome staff have not logged yet.
    IN_PROGRESS = "in_progress"


class CallbackAttempt(TimestampMixin, Base):
    """One try at calling the caller back."""

    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()
    outcome: Mapped[AttemptOutcome] = mapped_column(_enum(AttemptOutcome))
    note: Mapped[str] = mapped_column(Text, default="")
    number_dialled: Mapped[str | None] = mapped_column(String(32))
    # Click-to-call: the Twilio call that rang the staff member, and what Twilio reported.
    twilio_call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    twilio_status: Mapped[str | None] = mapped_column(String(32))
    duration_s: Mapped[int | None] = mapped_column(Integer)
    answered: Mapped[bool | None] = mapped_column(Boolean)

    ticket: Mapped[Ticket] = relationship(back_populates="attempts")
    user: Mapped[User | None] = relationship()


class TicketNote(TimestampMixin, Base):
    """A free-text note an officer adds to a ticket."""

    __tablename__ = "ticket_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)

    ticket: Mapped[Ticket] = relationship(back_populates="notes")
    user: Mapped[User | None] = relationship()


class AuditEvent(Base):
    """Who changed what on a ticket (or in the system), when and why."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    # NULL: the system did it (routing, the sweep, a reminder job).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(60))
    from_value: Mapped[str | None] = mapped_column(Text)
    to_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text, default="")

    ticket: Mapped[Ticket | None] = relationship(back_populates="events")
    user: Mapped[User | None] = relationship()


class Notification(Base):
    """A message to a person about a ticket, on one channel.

    The unique constraint makes reminders idempotent: a reminder of one kind is sent at most
    once per ticket, recipient, channel and due time, however often or concurrently the poll runs.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint(
            "ticket_id", "kind", "due_key", "user_id", "channel", name="uq_notifications_once"
        ),
        Index("ix_notifications_inbox", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    # The due time the reminder is about, as ISO text ("" when not tied to one).
    due_key: Mapped[str] = mapped_column(String(40), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    read_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)

    ticket: Mapped[Ticket | None] = relationship()
    user: Mapped[User] = relationship()
