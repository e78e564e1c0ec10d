"""Hostile and broken requests: forged signatures, bad parameters, faults inside a view."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask

from ivr import services
from storage.models import Call, Recording, RecordingStatus, Ticket, TicketKind, TicketStatus

WEBHOOKS = [
    "/ivr/incoming",
    "/ivr/menu?attempt=0",
    "/ivr/record",
    "/ivr/recording-status",
    "/ivr/status",
]


# --- signatures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", WEBHOOKS)
def test_a_forged_signature_is_refused_and_nothing_written(path, client, twilio, rows, caplog):
    params = twilio.params(
        RecordingStatus="completed", CallDuration="30", Digits="1", **twilio.recording()
    )
    with caplog.at_level(logging.WARNING, logger="ivr.signature"):
        response = client.post(
            "http://localhost" + path, data=params, headers={"X-Twilio-Signature": "Zm9yZ2Vk"}
        )
    assert response.status_code == 403
    assert "does not match" in caplog.text
    assert rows.count(Call) == rows.count(Ticket) == rows.count(Recording) == 0


@pytest.mark.parametrize("path", WEBHOOKS)
def test_a_missing_signature_is_refused(path, client, twilio, rows, caplog):
    with caplog.at_level(logging.WARNING, logger="ivr.signature"):
        response = client.post("http://localhost" + path, data=twilio.params())
    assert response.status_code == 403
    assert "no X-Twilio-Signature header" in caplog.text
    assert rows.count(Call) == 0


def test_a_signature_with_another_token_or_url_is_refused(client, twilio, xml, rows):
    params = twilio.params()
    url = "http://localhost/ivr/incoming"
    wrong_token = xml.sign(url, params, "not-our-token")
    wrong_url = xml.sign("http://localhost/ivr/menu", params, twilio.token)
    for signature in (wrong_token, wrong_url):
        response = client.post(url, data=params, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 403
    # A parameter changed after signing (a tampered caller id) breaks the signature too.
    signature = xml.sign(url, params, twilio.token)
    tampered = {**params, "From": "+84999999999"}
    response = client.post(url, data=tampered, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert rows.count(Call) == 0


def test_get_is_not_a_webhook(client):
    assert client.get("/ivr/incoming").status_code == 405


@pytest.fixture
def tokenless_config(app_config: dict[str, Any]) -> dict[str, Any]:
    app_config["TWILIO_AUTH_TOKEN"] = ""
    return app_config


def test_without_an_auth_token_every_request_is_refused(tokenless_config, app, xml, caplog):
    client = app.test_client()
    params = {"CallSid": "CA" + "1" * 32, "From": "+84912345678"}
    url = "http://localhost/ivr/incoming"
    # Signed with the empty token: still refused, the check is never skipped.
    signature = xml.sign(url, params, "")
    with caplog.at_level(logging.ERROR, logger="ivr.signature"):
        response = client.post(url, data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert "TWILIO_AUTH_TOKEN is not set" in caplog.text


# --- behind a proxy -----------------------------------------------------------------------------


def test_behind_a_proxy_the_public_https_url_is_signed_and_announced(client, twilio, xml, rows):
    params = twilio.params()
    public = "https://hotline.example.gov.vn/ivr/incoming"
    headers = {
        "X-Twilio-Signature": xml.sign(public, params, twilio.token),
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "hotline.example.gov.vn",
        "X-Forwarded-For": "54.172.60.1",
    }
    response = client.post("/ivr/incoming", data=params, headers=headers)
    root = xml.parse(response)
    gather = root.find("Gather")
    assert gather is not None
    assert gather.attrib["action"] == "https://hotline.example.gov.vn/ivr/menu?attempt=0"
    assert rows.count(Call) == 1


@pytest.fixture
def public_url_config(app_config: dict[str, Any]) -> dict[str, Any]:
    app_config["HOTLINE_PUBLIC_URL"] = "https://hotline.example.gov.vn"
    app_config["HOTLINE_PROXY_FIX"] = "0"
    return app_config


def test_a_configured_public_url_is_announced_and_accepted(public_url_config, app, xml):
    client = app.test_client()
    params = {"CallSid": "CA" + "2" * 32, "From": "+84912345678"}
    public = "https://hotline.example.gov.vn/ivr/incoming"
    token = app.extensions["ivr.options"].auth_token
    headers = {"X-Twilio-Signature": xml.sign(public, params, token)}
    root = xml.parse(client.post("/ivr/incoming", data=params, headers=headers))
    gather = root.find("Gather")
    assert gather is not None
    assert gather.attrib["action"] == "https://hotline.example.gov.vn/ivr/menu?attempt=0"


# --- malformed requests -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/ivr/incoming", {"From": "+84912345678"}, "missing CallSid"),
        ("/ivr/incoming", {"CallSid": "CA123"}, "malformed CallSid"),
        ("/ivr/incoming", {"CallSid": "XX" + "0" * 32}, "malformed CallSid"),
        ("/ivr/menu?attempt=x", {"CallSid": "CA" + "0" * 32, "Digits": "1"}, "malformed attempt"),
        ("/ivr/status", {"CallSid": "CA" + "0" * 32}, "missing CallStatus"),
        (
            "/ivr/status",
            {"CallSid": "CA" + "0" * 32, "CallStatus": "exploded"},
            "unknown CallStatus",
        ),
        ("/ivr/recording-status", {"CallSid": "CA" + "0" * 32}, "missing RecordingStatus"),
        (
            "/ivr/recording-status",
            {"CallSid": "CA" + "0" * 32, "RecordingStatus": "weird"},
            "unknown RecordingStatus",
        ),
        (
            "/ivr/recording-status",
            {
                "CallSid": "CA" + "0" * 32,
                "RecordingStatus": "completed",
                "RecordingSid": "RE" + "1" * 32,
            },
            "missing RecordingUrl",
        ),
        (
            "/ivr/recording-status",
            {
                "CallSid": "CA" + "0" * 32,
                "RecordingStatus": "completed",
                "RecordingUrl": "https://api.twilio.com/x",
            },
            "missing RecordingSid",
        ),
        (
            "/ivr/recording-status",
            {
                "CallSid": "CA" + "0" * 32,
                "RecordingStatus": "completed",
                "RecordingSid": "RE" + "1" * 32,
                "RecordingUrl": "file:///etc/passwd",
            },
            "malformed RecordingUrl",
        ),
        (
            "/ivr/record",
            {"CallSid": "CA" + "0" * 32, "RecordingSid": "RE-nope", "RecordingUrl": "https://x/y"},
            "malformed RecordingSid",
        ),
    ],
)
def test_malformed_requests_get_a_clear_400_and_a_log_line(
    path, params, message, twilio, rows, caplog
):
    with caplog.at_level(logging.WARNING, logger="ivr.views"):
        response = twilio.post(path, params)
    assert response.status_code == 400
    assert response.mimetype == "text/plain"
    assert message in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert f"400 on {path.split('?')[0]}: {message}" in caplog.text
    assert rows.count(Call) == rows.count(Recording) == 0


def test_a_bad_request_loses_no_earlier_row(twilio, rows):
    twilio.incoming()
    twilio.press("1")
    bad = twilio.post("/ivr/recording-status", RecordingStatus="completed", RecordingSid="RE1")
    assert bad.status_code == 400
    ticket = rows.ticket(twilio.call_sid)
    assert ticket.status == TicketStatus.IN_CALL
    assert rows.topic(ticket.topic_id).code == "thue"


def test_a_malformed_duration_does_not_cost_the_message(rt, twilio, rows, caplog):
    twilio.incoming()
    recording = {**twilio.recording(), "RecordingDuration": "twelve"}
    with caplog.at_level(logging.WARNING, logger="ivr.params"):
        response = twilio.post("/ivr/recording-status", RecordingStatus="completed", **recording)
    assert response.status_code == 200
    assert "ignoring malformed RecordingDuration" in caplog.text
    (row,) = rows.recordings(twilio.call_sid)
    assert (row.status, row.twilio_duration_s) == (RecordingStatus.PENDING, None)
    assert rows.ticket(twilio.call_sid).kind == TicketKind.MESSAGE


def test_a_long_caller_id_is_kept_shortened(twilio, rows):
    twilio.caller = "sip:" + "x" * 60 + "@example.com"
    twilio.incoming()
    assert len(rows.ticket(twilio.call_sid).caller) == 32


def test_odd_digits_are_just_wrong_keys(twilio, xml):
    twilio.incoming()
    for digits in ("12", "a", " ", "٣"):
        twilio.last = twilio.step("http://localhost/ivr/menu?attempt=0", Digits=digits)
    assert xml.spoken(twilio.last)  # the caller always hears something


# --- faults inside a view -----------------------------------------------------------------------


def _boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError("database on fire")


def test_a_fault_in_the_menu_apologises_and_still_takes_a_message(
    monkeypatch, twilio, rows, xml, caplog
):
    twilio.incoming()
    monkeypatch.setattr(services, "handle_menu_input", _boom)
    with caplog.at_level(logging.ERROR, logger="ivr.views"):
        root = twilio.press("1")
    assert "webhook /ivr/menu failed" in caplog.text
    said = xml.spoken(root)
    assert said.startswith("Xin lỗi quý vị, hệ thống đang gặp sự cố.")
    assert xml.verbs(root) == ["Say", "Record", "Redirect"]
    record = root.find("Record")
    assert record is not None
    assert record.attrib["recordingStatusCallback"] == "http://localhost/ivr/recording-status"
    assert rows.ticket(twilio.call_sid).status == TicketStatus.IN_CALL  # rolled back, not lost


def test_a_fault_on_the_first_webhook_still_ends_in_a_ticket_with_the_message(
    monkeypatch, twilio, rows, xml
):
    monkeypatch.setattr(services, "office_status", _boom)
    root = twilio.incoming()
    assert xml.spoken(root).startswith("Xin lỗi quý vị")
    assert rows.count(Call) == 0  # the failed request wrote nothing
    monkeypatch.undo()

    status_url = twilio.recording_status_url()
    recording = twilio.recording()
    assert twilio.post(status_url, RecordingStatus="completed", **recording).status_code == 200
    ticket = rows.ticket(twilio.call_sid)
    assert (ticket.kind, ticket.status) == (TicketKind.MESSAGE, TicketStatus.OPEN)
    assert ticket.number
    assert rows.topic(ticket.topic_id).code == "khac"
    assert len(rows.recordings(twilio.call_sid)) == 1


def test_a_fault_after_the_message_apologises_and_hangs_up(monkeypatch, twilio, xml):
    twilio.incoming()
    twilio.press("1")
    record_url = twilio.record_url()
    monkeypatch.setattr(services, "finish_message", _boom)
    root = twilio.step(record_url, Digits="#", **twilio.recording())
    assert xml.verbs(root) == ["Say", "Hangup"]
    assert "chưa thể đọc số phiếu" in xml.spoken(root)


@pytest.mark.parametrize(
    ("path", "target"), [("/ivr/status", "end_call"), ("/ivr/recording-status", "recording_status")]
)
def test_a_fault_in_a_callback_is_a_500_twilio_can_retry(monkeypatch, path, target, twilio):
    monkeypatch.setattr(services, target, _boom)
    response = twilio.post(
        path, RecordingStatus="completed", CallStatus="completed", **twilio.recording()
    )
    assert response.status_code == 500
    assert "database on fire" not in response.get_data(as_text=True)


def test_a_queue_outage_does_not_fail_the_webhook(app: Flask, monkeypatch, twilio, rows, caplog):
    def unreachable(*args: object) -> bool:
        raise ConnectionError("queue down")

    monkeypatch.setattr(app.extensions["jobs"], "enqueue", unreachable)
    twilio.incoming()
    with caplog.at_level(logging.ERROR, logger="ivr.views"):
        response = twilio.post(
            "/ivr/recording-status", RecordingStatus="completed", **twilio.recording()
        )
    assert response.status_code == 200
    assert "the periodic sweep will pick it up" in caplog.text
    assert len(rows.recordings(twilio.call_sid)) == 1
