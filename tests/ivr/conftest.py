"""Fixtures for the phone line: a frozen clock and a Twilio that signs its requests for real."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from hotline.runtime import Runtime
from storage.models import AuditEvent, Call, Recording, Ticket, Topic

# Monday 30/11/2026 09:00 in Hà Nội: the office is open.
MONDAY_9AM = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
BASE = "http://localhost"
MEDIA = "https://api.twilio.com/2010-04-01/Accounts/AC" + "0" * 32


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_9AM)


@pytest.fixture
def app_config(app_config: dict[str, Any], clock: Clock) -> dict[str, Any]:
    app_config["HOTLINE_CLOCK"] = clock
    return app_config


def sign(url: str, params: dict[str, str], token: str) -> str:
    """Return X-Twilio-Signature for a POST of `params` to `url`, as Twilio computes it."""
    return RequestValidator(token).compute_signature(url, params)


def twiml(response: TestResponse) -> ET.Element:
    """Parse a TwiML answer (and check it is one)."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    root = ET.fromstring(response.get_data())
    assert root.tag == "Response"
    return root


def spoken(root: ET.Element) -> str:
    """Return everything said in a TwiML document, in order, as one string."""
    return " ".join((el.text or "").strip() for el in root.iter("Say"))


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


@dataclass
class FakeTwilio:
    """Plays Twilio towards the app: signed webhooks for one call, following the TwiML."""

    client: FlaskClient
    token: str
    call_sid: str = field(default_factory=lambda: "CA" + uuid.uuid4().hex)
    caller: str = "+84912345678"
    called: str = "+842223999999"
    last: ET.Element | None = None

    def params(self, **extra: str) -> dict[str, str]:
        return {
            "AccountSid": "AC" + "0" * 32,
            "CallSid": self.call_sid,
            "From": self.caller,
            "To": self.called,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            **extra,
        }

    def post(self, url: str, data: dict[str, str] | None = None, **extra: str) -> TestResponse:
        """POST signed; `url` is a path or an absolute URL from the TwiML."""
        full = url if url.startswith("http") else BASE + url
        params = self.params(**extra) if data is None else data
        return self.client.post(
            full, data=params, headers={"X-Twilio-Signature": sign(full, params, self.token)}
        )

    def step(self, url: str, **extra: str) -> ET.Element:
        self.last = twiml(self.post(url, **extra))
        return self.last

    def incoming(self) -> ET.Element:
        return self.step("/ivr/incoming")

    def press(self, key: str) -> ET.Element:
        """Press `key` at the current menu (the Gather's action)."""
        assert self.last is not None
        gather = self.last.find("Gather")
        assert gather is not None, "no menu to press a key at"
        return self.step(gather.attrib["action"], Digits=key)

    def silence(self) -> ET.Element:
        """Stay silent at the current menu: Twilio follows the Redirect after the Gather."""
        assert self.last is not None
        assert verbs(self.last)[-2:] == ["Gather", "Redirect"]
        redirect = self.last.find("Redirect")
        assert redirect is not None and redirect.text
        return self.step(redirect.text)

    def record_url(self) -> str:
        assert self.last is not None
        record = self.last.find("Record")
        assert record is not None, "not asked for a message"
        return record.attrib["action"]

    def recording_status_url(self) -> str:
        assert self.last is not None
        record = self.last.find("Record")
        assert record is not None
        return record.attrib["recordingStatusCallback"]

    def recording(self, sid: str | None = None, duration: str = "12") -> dict[str, str]:
        sid = sid or "RE" + uuid.uuid4().hex
        return {
            "RecordingSid": sid,
            "RecordingUrl": f"{MEDIA}/Recordings/{sid}",
            "RecordingDuration": duration,
        }

    def status(self, status: str = "completed", duration: str = "60") -> TestResponse:
        return self.post("/ivr/status", CallStatus=status, CallDuration=duration)


@pytest.fixture
def token(rt: Runtime) -> str:
    """The auth token the app checks signatures with (conftest's TEST_AUTH_TOKEN)."""
    return rt.settings.twilio_auth_token


@pytest.fixture
def twilio(client: FlaskClient, token: str) -> FakeTwilio:
    return FakeTwilio(client, token)


@dataclass
class Rows:
    """Reads what the webhooks wrote, each time in a short session of its own.

    SQLite transactions here take the write lock at BEGIN, so a test must never keep one open
    while the app handles a request: every read ends its transaction before returning.
    The returned rows are detached, with their columns loaded (no lazy relationships).
    """

    rt: Runtime

    def _one(self, statement: Any) -> Any:
        with self.rt.sessions() as session:
            row = session.scalar(statement)
            return row

    def ticket(self, call_sid: str) -> Ticket:
        ticket = self._one(
            select(Ticket).join(Call, Ticket.call_id == Call.id).where(Call.call_sid == call_sid)
        )
        assert ticket is not None, f"no ticket for {call_sid}"
        return ticket  # type: ignore[no-any-return]

    def call(self, call_sid: str) -> Call:
        call = self._one(select(Call).where(Call.call_sid == call_sid))
        assert call is not None, f"no call {call_sid}"
        return call  # type: ignore[no-any-return]

    def recordings(self, call_sid: str) -> list[Recording]:
        with self.rt.sessions() as session:
            found = list(
                session.scalars(
                    select(Recording)
                    .join(Call, Recording.call_id == Call.id)
                    .where(Call.call_sid == call_sid)
                )
            )
            return found

    def topic(self, topic_id: int | None) -> Topic:
        topic = self._one(select(Topic).where(Topic.id == topic_id))
        assert topic is not None
        return topic  # type: ignore[no-any-return]

    def events(self, ticket_id: int) -> list[AuditEvent]:
        with self.rt.sessions() as session:
            found = list(
                session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.ticket_id == ticket_id)
                    .order_by(AuditEvent.id)
                )
            )
            return found

    def count(self, model: type[Any]) -> int:
        return int(self._one(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def rows(rt: Runtime) -> Rows:
    return Rows(rt)


@dataclass(frozen=True)
class Xml:
    """TwiML helpers for tests (fixtures, since test modules cannot import each other)."""

    parse = staticmethod(twiml)
    spoken = staticmethod(spoken)
    verbs = staticmethod(verbs)
    sign = staticmethod(sign)


@pytest.fixture
def xml() -> Xml:
    return Xml()
