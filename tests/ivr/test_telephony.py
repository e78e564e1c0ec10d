"""SMS and calls through Twilio's REST API, received by a fake of it on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from hotline.tasks import drain
from hotline.wiring_ivr import build_telephony
from ivr.errors import TelephonyError
from ivr.fakes import FakeTelephony
from ivr.telephony import TwilioTelephony, can_receive_sms
from storage.models import AuditEvent

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "rest-token-abcdef"


@dataclass
class Captured:
    method: str
    path: str
    form: dict[str, list[str]]
    auth: str


@dataclass
class FakeTwilioApi:
    """Answers like api.twilio.com for Messages.json and Calls.json, and keeps each request."""

    requests: list[Captured] = field(default_factory=list)
    status: int = 201
    url: str = ""


@pytest.fixture
def twilio_api() -> Iterator[FakeTwilioApi]:
    api = FakeTwilioApi()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = parse_qs(self.rfile.read(length).decode("utf-8"))
            auth = base64.b64decode(self.headers.get("Authorization", "Basic ")[6:]).decode()
            api.requests.append(Captured("POST", self.path, form, auth))
            kind = "SM" if self.path.endswith("/Messages.json") else "CA"
            body: dict[str, Any] = {"sid": kind + "f" * 32, "status": "queued"}
            if api.status >= 400:
                body = {
                    "code": 21211,
                    "message": "The 'To' number is not valid.",
                    "status": api.status,
                }
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


def telephony(api: FakeTwilioApi) -> TwilioTelephony:
    return TwilioTelephony(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        phone_number="+842223999999",
        api_url=api.url,
        timeout_s=5,
    )


def test_sms_goes_to_the_messages_resource(twilio_api) -> None:
    sid = telephony(twilio_api).send_sms(to="+84912345678", body="Số phiếu: 371828.")
    assert sid == "SM" + "f" * 32
    (request,) = twilio_api.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.form == {
        "To": ["+84912345678"],
        "From": ["+842223999999"],
        "Body": ["Số phiếu: 371828."],
    }
    assert request.auth == f"{ACCOUNT_SID}:{AUTH_TOKEN}"


def test_a_call_goes_to_the_calls_resource_with_status_callbacks(twilio_api) -> None:
    sid = telephony(twilio_api).place_call(
        to="+84911111111",
        url="https://hotline.example.gov.vn/callbacks/1/bridge",
        status_callback="https://hotline.example.gov.vn/callbacks/1/status",
    )
    assert sid.startswith("CA")
    (request,) = twilio_api.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert request.form["Url"] == ["https://hotline.example.gov.vn/callbacks/1/bridge"]
    assert request.form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    with pytest.raises(ValueError):
        telephony(twilio_api).place_call(to="+84911111111")


@pytest.mark.parametrize(("status", "transient"), [(400, False), (429, True), (503, True)])
def test_refusals_say_whether_to_retry(twilio_api, status, transient) -> None:
    twilio_api.status = status
    with pytest.raises(TelephonyError) as raised:
        telephony(twilio_api).send_sms(to="+84912345678", body="x")
    assert raised.value.transient is transient
    assert raised.value.status == status


def test_an_unreachable_api_is_transient() -> None:
    unreachable = TwilioTelephony(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        phone_number="+842223999999",
        api_url="http://127.0.0.1:9",  # discard port: nothing listens
        timeout_s=2,
    )
    with pytest.raises(TelephonyError) as raised:
        unreachable.send_sms(to="+84912345678", body="x")
    assert raised.value.transient


def test_no_sender_is_a_permanent_error(twilio_api) -> None:
    api = TwilioTelephony(
        account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, phone_number="", api_url=twilio_api.url
    )
    with pytest.raises(TelephonyError) as raised:
        api.send_sms(to="+84912345678", body="x")
    assert not raised.value.transient
    assert twilio_api.requests == []


def test_only_mobile_numbers_get_texts() -> None:
    assert can_receive_sms("+84912345678")
    assert not can_receive_sms("+842223999999")  # a Bắc Ninh landline
    assert not can_receive_sms("anonymous")
    assert not can_receive_sms("+266696687")
    assert not can_receive_sms("+84")


def test_twilio_is_used_when_an_account_is_configured(rt) -> None:
    assert isinstance(build_telephony(rt.settings), FakeTelephony)
    configured = rt.settings.replace(
        twilio_account_sid=ACCOUNT_SID, twilio_api_url="http://127.0.0.1:1234/"
    )
    real = build_telephony(configured)
    assert isinstance(real, TwilioTelephony)
    assert real.api_url == "http://127.0.0.1:1234"
    assert real.client().api.base_url == "http://127.0.0.1:1234"


@pytest.fixture
def twilio_config(app_config: dict[str, Any], twilio_api: FakeTwilioApi) -> dict[str, Any]:
    app_config.update(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_PHONE_NUMBER="+842223999999",
        HOTLINE_TWILIO_API_URL=twilio_api.url,
    )
    return app_config


def test_the_confirmation_sms_reaches_twilio_after_the_call(
    twilio_config, twilio_api, app, rt, twilio, rows
) -> None:
    assert rt.services["telephony"] is app.extensions["telephony"]
    assert isinstance(app.extensions["telephony"], TwilioTelephony)
    twilio.incoming()
    twilio.press("1")
    twilio.step(twilio.record_url(), Digits="#", **twilio.recording())
    assert twilio_api.requests == []  # nothing sent inside the webhook

    drain(rt.queues["default"])
    (request,) = twilio_api.requests
    number = rows.ticket(twilio.call_sid).number
    assert request.form["To"] == ["+84912345678"]
    assert f"Số phiếu: {number}." in request.form["Body"][0]
    events = [
        e for e in rows.events(rows.ticket(twilio.call_sid).id) if e.action == "sms_confirmation"
    ]
    assert [e.reason for e in events] == ["Đã gửi tin nhắn xác nhận (SM" + "f" * 32 + ")"]
    assert rows.count(AuditEvent) == 2
