"""Click-to-call through Twilio's REST API (a fake of it on 127.0.0.1) and its signed webhooks."""

from __future__ import annotations

import base64
import json
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from hotline.runtime import Runtime
from hotline.wiring_tickets import TwilioDialer
from storage.models import AttemptOutcome, CallbackAttempt, Role, Ticket, TicketStatus, User
from tests.conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from tests.tickets.helpers import vn
from tickets import errors, jobs
from tickets.calendar import OfficeCalendar
from tickets.policy import TicketPolicy
from tickets.services import log_attempt, start_click_to_call

HOTLINE_NUMBER = "+842223999999"
BASE = "http://localhost"


@dataclass
class FakeTwilioApi:
    """Answers like api.twilio.com's Calls.json and keeps each request."""

    url: str = ""
    status: int = 201
    requests: list[tuple[str, dict[str, list[str]], str]] = field(default_factory=list)
    count: int = 0


@pytest.fixture
def twilio_api() -> Iterator[FakeTwilioApi]:
    api = FakeTwilioApi()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = parse_qs(self.rfile.read(length).decode("utf-8"))
            auth = base64.b64decode(self.headers.get("Authorization", "Basic ")[6:]).decode()
            api.requests.append((self.path, form, auth))
            api.count += 1
            body: dict[str, Any] = {"sid": f"CA{api.count:032x}", "status": "queued"}
            if api.status >= 400:
                body = {"code": 21214, "message": "'To' number cannot be reached", "status": 400}
            data = json.dumps(body).encode()
            self.send_response(api.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield api
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def app_config(app_config: dict[str, Any], twilio_api: FakeTwilioApi) -> dict[str, Any]:
    app_config.update(
        {
            "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
            "TWILIO_PHONE_NUMBER": HOTLINE_NUMBER,
            "HOTLINE_TWILIO_API_URL": twilio_api.url,
            "HOTLINE_PUBLIC_URL": BASE,
            "HOTLINE_CLOCK": lambda: vn(2026, 12, 1, 10, 5),
        }
    )
    return app_config


def post(
    client: FlaskClient, path: str, params: dict[str, str], *, sign: bool = True
) -> TestResponse:
    headers = {}
    if sign:
        headers["X-Twilio-Signature"] = RequestValidator(TEST_AUTH_TOKEN).compute_signature(
            BASE + path, params
        )
    return client.post(path, data=params, headers=headers)


def twiml(response: TestResponse) -> ET.Element:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    return ET.fromstring(response.get_data())


@pytest.fixture
def staff(make_user: Callable[..., User]) -> User:
    return make_user(Role.CALLBACK_STAFF, ("thue",), name="Lê Thị Gọi Lại", phone="0912 000 001")


def _dialer(rt: Runtime) -> TwilioDialer:
    dialer = rt.services["dialer"]
    assert isinstance(dialer, TwilioDialer)
    return dialer


def test_click_to_call_rings_staff_then_connects_the_caller_and_logs_the_call(
    rt: Runtime,
    db: Session,
    client: FlaskClient,
    twilio_api: FakeTwilioApi,
    make_ticket: Callable[..., Ticket],
    staff: User,
    calendar: OfficeCalendar,
    policy: TicketPolicy,
) -> None:
    ticket = make_ticket(caller="+84987654321", callback_number="+84988123456")
    now = vn(2026, 12, 1, 10, 0)
    attempt = start_click_to_call(db, ticket=ticket, user=staff, dialer=_dialer(rt), now=now)
    db.commit()
    assert attempt.outcome is AttemptOutcome.IN_PROGRESS
    assert attempt.number_dialled == "+84988123456"  # the number said in the message
    assert attempt.twilio_call_sid == f"CA{1:032x}"
    assert ticket.first_callback_at == now

    # Twilio's REST API got one call: to the staff phone, from the hotline, with our URLs.
    ((path, form, auth),) = twilio_api.requests
    assert path == f"/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Calls.json"
    assert auth == f"{TEST_ACCOUNT_SID}:{TEST_AUTH_TOKEN}"
    assert form["To"] == ["+84912000001"] and form["From"] == [HOTLINE_NUMBER]
    assert form["Url"] == [f"{BASE}/ivr/outbound/{attempt.id}/connect"]
    assert form["StatusCallback"] == [f"{BASE}/ivr/outbound/{attempt.id}/status"]
    assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]

    sid = attempt.twilio_call_sid
    assert sid is not None
    base = f"/ivr/outbound/{attempt.id}"
    # A forged request gets nothing, not even the caller's number.
    assert post(client, f"{base}/connect", {"CallSid": sid}, sign=False).status_code == 403
    # The staff member answers: TwiML dials the caller with the hotline's number.
    root = twiml(post(client, f"{base}/connect", {"CallSid": sid, "CallStatus": "in-progress"}))
    assert [el.tag for el in root] == ["Say", "Dial"]
    assert root[0].get("language") == "vi-VN" and "Đang nối máy" in (root[0].text or "")
    dial = root[1]
    assert dial.get("callerId") == HOTLINE_NUMBER
    assert dial.get("action") == f"{BASE}{base}/dial-result"
    assert [n.text for n in dial.iter("Number")] == ["+84988123456"]
    # Another call's id cannot fetch this attempt's number.
    other = twiml(post(client, f"{base}/connect", {"CallSid": "CA" + "e" * 32}))
    assert not list(other.iter("Dial"))

    post(client, f"{base}/status", {"CallSid": sid, "CallStatus": "in-progress"})
    twiml(
        post(
            client,
            f"{base}/dial-result",
            {"CallSid": sid, "DialCallStatus": "completed", "DialCallDuration": "125"},
        )
    )
    # Twilio retries callbacks: replaying them changes nothing.
    post(
        client, f"{base}/status", {"CallSid": sid, "CallStatus": "completed", "CallDuration": "140"}
    )
    post(
        client, f"{base}/status", {"CallSid": sid, "CallStatus": "completed", "CallDuration": "140"}
    )
    db.expire_all()
    attempt = db.get(CallbackAttempt, attempt.id)  # type: ignore[assignment]
    assert attempt is not None
    assert (attempt.answered, attempt.duration_s, attempt.twilio_status) == (True, 125, "completed")
    assert attempt.ended_at == vn(2026, 12, 1, 10, 5)

    # The staff member logs the outcome: it completes this attempt, it is not a second one.
    ticket = attempt.ticket
    log_attempt(
        db,
        ticket=ticket,
        user=staff,
        outcome=AttemptOutcome.REACHED_RESOLVED,
        note="Đã hướng dẫn hồ sơ hoàn thuế.",
        now=vn(2026, 12, 1, 10, 8),
        calendar=calendar,
        policy=policy,
    )
    assert len(ticket.attempts) == 1
    assert ticket.attempts[0].outcome is AttemptOutcome.REACHED_RESOLVED
    assert ticket.status is TicketStatus.RESOLVED


def test_an_unanswered_click_to_call_is_logged_by_the_sweep(
    rt: Runtime,
    db: Session,
    client: FlaskClient,
    make_ticket: Callable[..., Ticket],
    staff: User,
    policy: TicketPolicy,
) -> None:
    ticket = make_ticket(caller="+84987654321", called_at=vn(2026, 12, 1, 9, 0))
    attempt = start_click_to_call(
        db, ticket=ticket, user=staff, dialer=_dialer(rt), now=vn(2026, 12, 1, 10, 0)
    )
    db.commit()
    sid, attempt_id = attempt.twilio_call_sid, attempt.id
    assert sid is not None
    root = twiml(
        post(
            client,
            f"/ivr/outbound/{attempt_id}/dial-result",
            {"CallSid": sid, "DialCallStatus": "no-answer", "DialCallDuration": "0"},
        )
    )
    assert "không nghe máy" in " ".join(el.text or "" for el in root.iter("Say"))
    assert jobs.sweep(rt.sessions, now=vn(2026, 12, 1, 10, 20), policy=policy).dials_closed == 0
    assert jobs.sweep(rt.sessions, now=vn(2026, 12, 1, 10, 31), policy=policy).dials_closed == 1
    assert jobs.sweep(rt.sessions, now=vn(2026, 12, 1, 10, 32), policy=policy).dials_closed == 0
    db.expire_all()
    attempt = db.get(CallbackAttempt, attempt_id)  # type: ignore[assignment]
    assert attempt is not None and attempt.outcome is AttemptOutcome.NO_ANSWER
    assert attempt.user is staff and attempt.answered is False
    assert attempt.ticket.next_attempt_at == vn(2026, 12, 1, 13, 31)  # 59 min, lunch, 1 min


def test_a_double_click_rings_once(
    rt: Runtime,
    db: Session,
    twilio_api: FakeTwilioApi,
    make_ticket: Callable[..., Ticket],
    staff: User,
) -> None:
    ticket = make_ticket()
    now = vn(2026, 12, 1, 10, 0)
    first = start_click_to_call(db, ticket=ticket, user=staff, dialer=_dialer(rt), now=now)
    again = start_click_to_call(db, ticket=ticket, user=staff, dialer=_dialer(rt), now=now)
    assert first is again and len(twilio_api.requests) == 1


def test_refusals_are_clear(
    rt: Runtime,
    db: Session,
    twilio_api: FakeTwilioApi,
    make_ticket: Callable[..., Ticket],
    make_user: Callable[..., User],
    staff: User,
) -> None:
    now = vn(2026, 12, 1, 10, 0)
    no_phone = make_user(Role.CALLBACK_STAFF, ("thue",))
    with pytest.raises(errors.NoStaffPhone):
        start_click_to_call(db, ticket=make_ticket(), user=no_phone, dialer=_dialer(rt), now=now)
    with pytest.raises(errors.NoCallbackNumber):
        start_click_to_call(
            db, ticket=make_ticket(caller="anonymous"), user=staff, dialer=_dialer(rt), now=now
        )
    twilio_api.status = 400
    with pytest.raises(errors.DialFailed) as caught:
        start_click_to_call(db, ticket=make_ticket(), user=staff, dialer=_dialer(rt), now=now)
    assert "gọi trực tiếp" in caught.value.message


def test_without_twilio_there_is_no_dialler(app_config: dict[str, Any], tmp_path: Any) -> None:
    from hotline import create_app
    from hotline.runtime import runtime

    config = dict(app_config)
    for key in ("TWILIO_ACCOUNT_SID", "TWILIO_PHONE_NUMBER"):
        config.pop(key)
    config["INSTANCE_PATH"] = str(tmp_path / "other")
    rt = runtime(create_app(config))
    assert rt.services["dialer"] is None
    assert set(rt.services["notifiers"]) == {"inapp"}
    rt.engine.dispose()


def test_malformed_callbacks_get_400_and_unknown_attempts_hang_up(client: FlaskClient) -> None:
    assert post(client, "/ivr/outbound/1/connect", {"CallStatus": "ringing"}).status_code == 400
    assert (
        post(client, "/ivr/outbound/1/dial-result", {"CallSid": "CA" + "1" * 32}).status_code == 400
    )
    root = twiml(post(client, "/ivr/outbound/424242/connect", {"CallSid": "CA" + "1" * 32}))
    assert [el.tag for el in root] == ["Say", "Hangup"]
    assert (
        post(
            client,
            "/ivr/outbound/424242/status",
            {"CallSid": "CA" + "1" * 32, "CallStatus": "completed"},
        ).status_code
        == 200
    )
