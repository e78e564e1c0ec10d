"""Fixtures of the ticket tests: the seeded calendar, a policy, users and tickets on demand."""

from __future__ import annotations

import itertools
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import (
    Call,
    CallState,
    Confidence,
    Department,
    Recording,
    RecordingStatus,
    Role,
    Ticket,
    TicketKind,
    TicketStatus,
    Topic,
    Transcript,
    User,
)
from tests.tickets.helpers import reference_calendar, vn
from tickets.calendar import OfficeCalendar
from tickets.numbering import ticket_number
from tickets.policy import EMAIL, INAPP, SMS, SMS_CALLER, TicketPolicy


@pytest.fixture(scope="session")
def calendar() -> OfficeCalendar:
    return reference_calendar()


@pytest.fixture
def policy() -> TicketPolicy:
    return TicketPolicy(
        base_url="https://hotline.test",
        channels=frozenset({INAPP, EMAIL, SMS, SMS_CALLER}),
        resolved_sms=True,
    )


_emails = itertools.count(1)


@pytest.fixture
def make_user(db: Session) -> Callable[..., User]:
    def make(
        role: Role = Role.OFFICER,
        departments: tuple[str, ...] = (),
        *,
        name: str = "Cán bộ",
        phone: str | None = None,
        email: str | None = None,
    ) -> User:
        depts = list(db.scalars(select(Department).where(Department.code.in_(departments))))
        user = User(
            email=email or f"user{next(_emails)}@hotline.test",
            name=name,
            role=role,
            password_hash="x",
            phone=phone,
            departments=depts,
        )
        db.add(user)
        db.flush()
        return user

    return make


@pytest.fixture
def topics(db: Session) -> dict[str, Topic]:
    return {t.code: t for t in db.scalars(select(Topic))}


_sids = itertools.count(1)


@pytest.fixture
def make_ticket(db: Session, topics: dict[str, Topic]) -> Callable[..., Ticket]:
    """Build a ticket the way the IVR leaves it: a call, a keypad topic, maybe a transcript."""

    def make(
        *,
        digit_topic: str | None = "thue",
        caller: str = "+84912345678",
        called_at: datetime | None = None,
        text: str | None = None,
        status: TicketStatus = TicketStatus.OPEN,
        **fields: Any,
    ) -> Ticket:
        n = next(_sids)
        called = called_at or vn(2026, 12, 1, 9, 0)
        topic = topics[digit_topic] if digit_topic else None
        call = Call(
            call_sid=f"CA{n:032x}",
            from_number=caller,
            state=CallState.ENDED,
            topic=topic,
            started_at=called,
        )
        ticket = Ticket(
            call=call,
            kind=TicketKind.MESSAGE if text is not None else TicketKind.MISSED_CALL,
            status=status,
            caller=caller,
            topic=topic,
            department_id=topic.department_id if topic else None,
            called_at=called,
            **fields,
        )
        db.add_all([call, ticket])
        db.flush()
        ticket.number = ticket_number(ticket.id)
        if text is not None:
            recording = Recording(
                recording_sid=f"RE{n:032x}",
                call=call,
                ticket=ticket,
                source_url="",
                status=RecordingStatus.TRANSCRIBED,
            )
            recording.transcript = Transcript(
                text=text, engine="test", model="test", confidence=Confidence.HIGH
            )
            db.add(recording)
        db.flush()
        return ticket

    return make


@dataclass
class SmtpSink:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=email_policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink("127.0.0.1", free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
