"""Fixtures of the desk's tests: users of every role, tickets with real audio, signed-in clients."""

from __future__ import annotations

import io
import math
import re
import struct
import wave
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from hotline.runtime import Runtime
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
    utcnow,
)
from tickets.numbering import ticket_number
from web.accounts import session_key

PASSWORD = "mat-khau-thu-nghiem"

# Three timed lines of a caller's message, as Whisper gives them; the middle one is unsure.
SEGMENTS = [
    {
        "start": 0.0,
        "end": 2.0,
        "text": "Xin chào, tôi là Công ty TNHH Minh Phát ở Từ Sơn.",
        "avg_logprob": -0.2,
        "no_speech_prob": 0.01,
        "low": False,
    },
    {
        "start": 2.0,
        "end": 4.0,
        "text": "Tôi muốn hỏi về hoàn thuế giá trị gia tăng.",
        "avg_logprob": -1.3,
        "no_speech_prob": 0.05,
        "low": True,
    },
    {
        "start": 4.0,
        "end": 6.0,
        "text": "Xin gọi lại số không chín một hai.",
        "avg_logprob": -0.3,
        "no_speech_prob": 0.02,
        "low": False,
    },
]


def tone_wav(seconds: float = 6.0, rate: int = 8000) -> bytes:
    """Return a mono 16-bit WAV: a tone whose pitch changes every two seconds."""
    frames = bytearray()
    for i in range(int(seconds * rate)):
        pitch = 440 + 220 * int(i / rate // 2)
        frames += struct.pack("<h", int(8000 * math.sin(2 * math.pi * pitch * i / rate)))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


@pytest.fixture(scope="session")
def password_hash() -> str:
    # Hashing is slow on purpose (scrypt); do it once for every test user.
    return generate_password_hash(PASSWORD)


@pytest.fixture
def user_password() -> str:
    return PASSWORD


@pytest.fixture(scope="session")
def wav_bytes() -> bytes:
    return tone_wav()


@pytest.fixture
def make_user(db: Session, password_hash: str) -> Callable[..., User]:
    counter = iter(range(1, 1000))

    def make(role: Role, departments: tuple[str, ...] = (), **fields: Any) -> User:
        n = next(counter)
        user = User(
            email=fields.pop("email", f"{role.value}{n}@hotline.test"),
            name=fields.pop("name", f"Cán bộ {role.value} {n}"),
            role=role,
            password_hash=password_hash,
            **fields,
        )
        user.departments = list(
            db.scalars(select(Department).where(Department.code.in_(departments)))
        )
        db.add(user)
        db.commit()
        return user

    return make


@pytest.fixture
def users(make_user: Callable[..., User]) -> dict[str, User]:
    """One user of each role; the officer and the staff member work for the tax department."""
    return {
        "admin": make_user(Role.ADMIN, name="Quản Trị"),
        "supervisor": make_user(Role.SUPERVISOR, name="Giám Sát"),
        "officer": make_user(Role.OFFICER, ("thue",), name="Trần Văn Thuế"),
        "staff": make_user(
            Role.CALLBACK_STAFF, ("thue",), name="Lê Thị Gọi Lại", phone="+84911000111"
        ),
        "outsider": make_user(Role.OFFICER, ("tai-chinh",), name="Phạm Tài Chính"),
    }


@pytest.fixture
def make_ticket(db: Session, rt: Runtime, wav_bytes: bytes) -> Callable[..., Ticket]:
    counter = iter(range(1, 10_000))

    def make(
        topic: str = "thue",
        *,
        caller: str = "+84912345678",
        segments: list[dict[str, Any]] | None = None,
        audio: bool = True,
        status: TicketStatus = TicketStatus.OPEN,
        called_at: datetime | None = None,
        due_in: timedelta | None = timedelta(hours=4),
        business_name: str | None = "Công ty TNHH Minh Phát",
        recording_status: RecordingStatus = RecordingStatus.TRANSCRIBED,
    ) -> Ticket:
        n = next(counter)
        topic_row = db.scalar(select(Topic).where(Topic.code == topic))
        assert topic_row is not None
        called = called_at or utcnow() - timedelta(minutes=30)
        call = Call(
            call_sid=f"CAtest{n:030d}",
            from_number=caller,
            state=CallState.ENDED,
            topic=topic_row,
            started_at=called,
        )
        ticket = Ticket(
            call=call,
            kind=TicketKind.MESSAGE,
            status=status,
            caller=caller,
            business_name=business_name,
            topic=topic_row,
            department_id=topic_row.department_id,
            routing_reason=f"keypad {topic_row.digit}",
            called_at=called,
            callback_due_at=called + due_in if due_in is not None else None,
        )
        db.add_all([call, ticket])
        db.flush()
        ticket.number = ticket_number(ticket.id)
        recording = Recording(
            recording_sid=f"REtest{n:030d}",
            call=call,
            ticket=ticket,
            source_url="",
            status=recording_status,
        )
        if audio:
            key = f"test/{ticket.number}.wav"
            stored = rt.audio_store.put(key, [wav_bytes])
            recording.audio_key = key
            recording.audio_sha256 = stored.sha256
            recording.audio_bytes = stored.size_bytes
            recording.content_type = "audio/wav"
            recording.audio_duration_s = 6.0
        segs = SEGMENTS if segments is None else segments
        if recording_status is RecordingStatus.TRANSCRIBED:
            recording.transcript = Transcript(
                text=" ".join(s["text"] for s in segs),
                segments=segs,
                engine="fake",
                model="test",
                confidence=Confidence.MEDIUM,
                audio_duration_s=6.0,
            )
        db.add(recording)
        db.commit()
        # Load what tests read, then end the transaction: an open SQLite transaction here
        # (BEGIN IMMEDIATE) would block the app's requests.
        for loaded in ticket.recordings:
            _ = loaded.transcript
        db.commit()
        return ticket

    return make


@pytest.fixture
def login(app: Flask) -> Callable[[FlaskClient, User], FlaskClient]:
    """Sign a test client in as `user` (without the slow password check)."""

    def sign_in(client: FlaskClient, user: User) -> FlaskClient:
        with client.session_transaction() as session:
            session["_user_id"] = session_key(user)
            session["_fresh"] = True
        return client

    return sign_in


_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """Return a CSRF token valid for the client's session (read from a page)."""
    page = client.get(path)
    found = _TOKEN.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {path} ({page.status_code})"
    return found.group(1)


@pytest.fixture
def csrf() -> Callable[..., str]:
    """Return the helper that reads a CSRF token from a page."""
    return csrf_token


@pytest.fixture
def post(client: FlaskClient) -> Callable[..., Any]:
    """POST a form with a valid CSRF token, like a browser would."""

    def send(
        url: str, data: dict[str, Any] | None = None, *, c: FlaskClient | None = None, **kwargs: Any
    ) -> Any:
        who = c or client
        form = dict(data or {})
        form.setdefault("csrf_token", csrf_token(who))
        return who.post(url, data=form, **kwargs)

    return send


@pytest.fixture
def signed_in(
    client: FlaskClient, users: dict[str, User], login: Callable[[FlaskClient, User], FlaskClient]
) -> Iterator[Callable[[str], FlaskClient]]:
    def as_role(name: str) -> FlaskClient:
        return login(client, users[name])

    yield as_role
