"""Property-based fuzzing of every Twilio webhook (hypothesis).

The routes are read from the app's URL map (every rule of the Twilio blueprints), so a webhook
added later is fuzzed too. Properties:
- unsigned, forged or mis-signed: 403, and not one row written;
- signed (Twilio's own signature over whatever parameters): never a 5xx, never a stack trace,
  always an answer Twilio understands (TwiML, or a plain 4xx).
HOTLINE_FUZZ_EXAMPLES scales the number of requests per route (default 40).
"""

from __future__ import annotations

import os
import re
import string
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

TWILIO_BLUEPRINTS = ("ivr", "ivr_outbound")
EXAMPLES = int(os.environ.get("HOTLINE_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests on every run: a failure in CI reproduces locally
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def twilio_routes(app: Flask) -> list[str]:
    rules = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".", 1)[0] in TWILIO_BLUEPRINTS
    ]
    return sorted(rules)


# --- what Twilio (or an attacker) might send ------------------------------------------------------

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
long_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=200, max_size=5000)
hex32 = st.text("0123456789abcdef", min_size=32, max_size=32)
sids = st.one_of(
    hex32.map(lambda h: "CA" + h),
    hex32.map(lambda h: "RE" + h),
    st.just("CA" + "0" * 31),  # one digit short
    st.just("../../../etc/passwd"),
    text,
)
urls = st.one_of(
    hex32.map(lambda h: f"https://api.twilio.com/2010-04-01/Accounts/AC{h}/Recordings/RE{h}"),
    st.sampled_from(
        [
            "http://169.254.169.254/latest/meta-data/",
            "file:///etc/passwd",
            "https://api.twilio.com@evil.example/x",
            "https://evil.example/#api.twilio.com",
            "gopher://127.0.0.1:6379/_FLUSHALL",
            "javascript:alert(1)",
            "https://api.twilio.com/../../x",
            "",
        ]
    ),
    text,
)
numbers = st.one_of(
    st.sampled_from(["+84912345678", "0912345678", "anonymous", "client:alice", "+1", ""]),
    st.text("+0123456789", max_size=40),
    text,
)
digits = st.one_of(st.text("0123456789*#w", max_size=12), text)
statuses = st.one_of(
    st.sampled_from(
        ["completed", "absent", "failed", "in-progress", "busy", "no-answer", "canceled"]
    ),
    text,
)
durations = st.one_of(
    st.integers(-5, 10**12).map(str), st.sampled_from(["", "1e9", "NaN", "٣"]), text
)
KNOWN: dict[str, st.SearchStrategy[str]] = {
    "CallSid": sids,
    "AccountSid": st.one_of(hex32.map(lambda h: "AC" + h), text),
    "From": numbers,
    "To": numbers,
    "Caller": numbers,
    "Digits": digits,
    "RecordingSid": sids,
    "RecordingUrl": urls,
    "RecordingStatus": statuses,
    "RecordingDuration": durations,
    "CallStatus": statuses,
    "CallDuration": durations,
    "DialCallStatus": statuses,
    "DialCallDuration": durations,
    "Direction": st.sampled_from(["inbound", "outbound-api", ""]),
}


@st.composite
def webhook_params(draw: st.DrawFn) -> dict[str, str]:
    names = draw(st.lists(st.sampled_from(sorted(KNOWN)), unique=True, max_size=len(KNOWN)))
    params = {name: draw(st.one_of(KNOWN[name], long_text)) for name in names}
    extra = draw(st.dictionaries(text.filter(bool), text, max_size=3))
    return {**extra, **params}


# Query values for the fuzzed URLs (percent-escapes that Werkzeug decodes have a test below).
url_safe = st.text(string.ascii_letters + string.digits + "-._~ %+&=", max_size=60)


@st.composite
def query(draw: st.DrawFn) -> str:
    value = draw(st.one_of(st.integers(0, 5).map(str), url_safe, st.just("9" * 50)))
    return "?" + urlencode({"attempt": value}) if draw(st.booleans()) else ""


# Ids that fit the database's integer column (larger ones have a test below).
attempt_ids = st.one_of(st.integers(0, 3), st.integers(0, 2**31 - 1))


def url_for(rule: str, attempt_id: int, query_string: str) -> str:
    path = re.sub(r"<int(\([^)]*\))?:attempt_id>", str(attempt_id), rule)
    return "http://localhost" + path + query_string


# --- the properties -------------------------------------------------------------------------------


@pytest.fixture
def routes(app: Flask) -> list[str]:
    found = twilio_routes(app)
    assert {"/ivr/incoming", "/ivr/status", "/ivr/recording-status"} <= set(found)
    return found


def test_every_twilio_route_refuses_unsigned_requests_and_writes_nothing(
    app: Flask, routes: list[str], rows: Any
) -> None:
    client = app.test_client()
    token = app.extensions["hotline"].settings.twilio_auth_token
    before = rows.counts()

    @FUZZ
    @given(
        rule=st.sampled_from(routes),
        attempt_id=attempt_ids,
        query_string=query(),
        params=webhook_params(),
        forgery=st.sampled_from(["none", "garbage", "other token", "other url", "tampered"]),
    )
    def unsigned(
        rule: str, attempt_id: int, query_string: str, params: dict[str, str], forgery: str
    ) -> None:
        url = url_for(rule, attempt_id, query_string)
        headers: dict[str, str] = {}
        if forgery == "garbage":
            headers["X-Twilio-Signature"] = "bm90IGEgc2lnbmF0dXJl"
        elif forgery == "other token":
            headers["X-Twilio-Signature"] = sign("another-token", url, params)
        elif forgery == "other url":
            headers["X-Twilio-Signature"] = sign(token, url + "x", params)
        elif forgery == "tampered":
            headers["X-Twilio-Signature"] = sign(token, url, params)
            params = {**params, "From": params.get("From", "") + "1"}
        response = client.post(url, data=params, headers=headers)
        assert response.status_code == 403, (url, params, response.status_code)
        assert b"Traceback" not in response.get_data()

    unsigned()
    assert rows.counts() == before


def test_every_twilio_route_answers_signed_garbage_without_a_server_error(
    app: Flask, routes: list[str]
) -> None:
    client = app.test_client()
    token = app.extensions["hotline"].settings.twilio_auth_token

    @FUZZ
    @given(
        rule=st.sampled_from(routes),
        attempt_id=attempt_ids,
        query_string=query(),
        params=webhook_params(),
    )
    def signed(rule: str, attempt_id: int, query_string: str, params: dict[str, str]) -> None:
        url = url_for(rule, attempt_id, query_string)
        response = client.post(
            url, data=params, headers={"X-Twilio-Signature": sign(token, url, params)}
        )
        body = response.get_data(as_text=True)
        assert response.status_code < 500, (url, params, response.status_code, body[:300])
        assert response.status_code in (200, 400, 404, 409, 422), response.status_code
        assert "Traceback" not in body and 'File "' not in body
        if response.status_code == 200:
            assert response.mimetype == "text/xml" and body.lstrip().startswith("<?xml")

    signed()


def sign(token: str, url: str, params: dict[str, str]) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


@pytest.mark.parametrize("query_string", ["?attempt=%7B", "?attempt=%C3%A9", "?attempt=%2F"])
def test_a_signed_url_with_percent_escapes_is_accepted(app: Flask, query_string: str) -> None:
    token = app.extensions["hotline"].settings.twilio_auth_token
    url = "http://localhost/ivr/menu" + query_string
    params = {"CallSid": "CA" + "5" * 32, "From": "+84912345678", "Digits": "1"}
    response = app.test_client().post(
        url, data=params, headers={"X-Twilio-Signature": sign(token, url, params)}
    )
    # A malformed attempt number is a 400; a refused signature would be a 403.
    assert response.status_code == 400


@pytest.mark.parametrize("attempt_id", [2**31, 2**63])
@pytest.mark.parametrize("action", ["connect", "dial-result", "status"])
def test_an_attempt_id_beyond_the_integer_column_is_a_404(
    app: Flask, attempt_id: int, action: str
) -> None:
    settings = app.extensions["hotline"].settings
    token = settings.twilio_auth_token
    url = f"http://localhost/ivr/outbound/{attempt_id}/{action}"
    params = {"CallSid": "CA" + "6" * 32, "CallStatus": "completed", "DialCallStatus": "busy"}
    response = app.test_client().post(
        url, data=params, headers={"X-Twilio-Signature": sign(token, url, params)}
    )
    assert response.status_code < 500
