"""The confirmation SMS job: once per ticket, retried only when it may pass."""

from __future__ import annotations

import pytest

from ivr.errors import TelephonyError
from ivr.fakes import FakeTelephony
from ivr.jobs import send_confirmation_sms


@pytest.fixture
def ticket_id(twilio, rows) -> int:
    twilio.incoming()
    twilio.press("1")
    twilio.step(twilio.record_url(), Digits="#", **twilio.recording())
    return rows.ticket(twilio.call_sid).id


def send(rt, ticket_id: int, telephony: FakeTelephony, clock) -> str:
    return send_confirmation_sms(
        rt.sessions,
        ticket_id=ticket_id,
        telephony=telephony,
        tz_name="Asia/Ho_Chi_Minh",
        now=clock.now,
    )


def test_sent_once_however_often_the_job_runs(rt, ticket_id, clock, rows) -> None:
    fake = FakeTelephony()
    assert send(rt, ticket_id, fake, clock) == "sent"
    assert send(rt, ticket_id, fake, clock) == "already_sent"
    assert len(fake.sent) == 1
    assert send(rt, 987654, fake, clock) == "no_ticket"


def test_a_transient_failure_releases_the_claim_for_the_retry(rt, ticket_id, clock, rows) -> None:
    fake = FakeTelephony()
    fake.fail_with = TelephonyError("Twilio unreachable", transient=True)
    with pytest.raises(TelephonyError):
        send(rt, ticket_id, fake, clock)
    assert [e.action for e in rows.events(ticket_id)] == ["status_changed"]
    fake.fail_with = None
    assert send(rt, ticket_id, fake, clock) == "sent"


def test_a_refused_number_is_recorded_and_not_retried(rt, ticket_id, clock, rows) -> None:
    fake = FakeTelephony()
    fake.fail_with = TelephonyError("HTTP 400, code 21211", transient=False, status=400)
    assert send(rt, ticket_id, fake, clock) == "failed"
    event = rows.events(ticket_id)[-1]
    assert (event.action, event.reason) == (
        "sms_confirmation",
        "Không gửi được tin nhắn xác nhận: HTTP 400, code 21211",
    )
    fake.fail_with = None
    assert send(rt, ticket_id, fake, clock) == "already_sent"


def test_landlines_are_not_texted(rt, twilio, rows, clock) -> None:
    twilio.caller = "+842223999888"
    twilio.incoming()
    ticket = rows.ticket(twilio.call_sid)
    assert send(rt, ticket.id, FakeTelephony(), clock) == "not_mobile"
