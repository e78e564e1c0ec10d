"""The call flow end to end through the webhooks, signed for real, TwiML parsed as XML."""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from hotline.runtime import Runtime
from hotline.tasks import drain
from ivr.fakes import FakeTelephony
from storage.models import (
    AuditEvent,
    Call,
    CallState,
    Language,
    Recording,
    RecordingStatus,
    Ticket,
    TicketKind,
    TicketStatus,
    Topic,
)

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
TOPICS = {
    "1": ("thue", "Thuế"),
    "2": ("dat-dai-xay-dung", "Đất đai, xây dựng"),
    "3": ("dau-tu", "Đầu tư, đăng ký kinh doanh"),
    "4": ("lao-dong-bhxh", "Lao động, bảo hiểm xã hội"),
    "5": ("hai-quan", "Hải quan, xuất nhập khẩu"),
    "0": ("khac", "Các vấn đề khác"),
}


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=HANOI).astimezone(UTC)


def queued(rt: Runtime, queue: str) -> list[str]:
    return [task.name for task in rt.queues[queue].pending()]


# --- the welcome and the menu -------------------------------------------------------------------


def test_incoming_greets_opens_a_ticket_and_offers_the_menu(twilio, rows, xml) -> None:
    root = twilio.incoming()

    assert xml.verbs(root) == ["Say", "Gather", "Redirect"]
    greeting = root.find("Say")
    assert greeting is not None
    assert greeting.attrib == {"language": "vi-VN", "voice": "Google.vi-VN-Standard-A"}
    assert greeting.text == "Xin chào quý vị. Đây là Tổng đài hỗ trợ doanh nghiệp."
    gather = root.find("Gather")
    assert gather is not None
    assert gather.attrib["action"] == "http://localhost/ivr/menu?attempt=0"
    assert gather.attrib["numDigits"] == "1"
    assert gather.attrib["method"] == "POST"
    menu, english = gather.findall("Say")
    assert "Thuế, bấm phím 1." in (menu.text or "")
    assert "Các vấn đề khác, bấm phím 0. Nghe lại, bấm phím sao." in (menu.text or "")
    assert english.text == "For English, press 9."
    assert english.attrib == {"language": "en-US", "voice": "Google.en-US-Standard-C"}
    redirect = root.find("Redirect")
    assert redirect is not None and redirect.text == gather.attrib["action"]

    ticket = rows.ticket(twilio.call_sid)
    assert ticket.status == TicketStatus.IN_CALL
    assert ticket.caller == "+84912345678"
    assert re.fullmatch(r"[1-9]\d{5}", ticket.number or "")
    call = rows.call(twilio.call_sid)
    assert (call.state, call.after_hours, call.menu_tries) == (CallState.MENU, False, 0)


@pytest.mark.parametrize("digit", sorted(TOPICS))
def test_each_topic_key_takes_a_message_under_its_topic(digit, twilio, rows, xml) -> None:
    code, spoken_name = TOPICS[digit]
    twilio.incoming()
    root = twilio.press(digit)

    assert xml.verbs(root) == ["Say", "Say", "Record", "Redirect"]
    assert xml.spoken(root).startswith(f"Quý vị đã chọn: {spoken_name}. Xin quý vị để lại lời nhắn")
    assert "dài tối đa 3 phút" in xml.spoken(root)
    record = root.find("Record")
    assert record is not None
    assert record.attrib == {
        "action": "http://localhost/ivr/record",
        "method": "POST",
        "maxLength": "180",
        "finishOnKey": "#",
        "playBeep": "true",
        "trim": "trim-silence",
        "recordingStatusCallback": "http://localhost/ivr/recording-status",
        "recordingStatusCallbackMethod": "POST",
        "recordingStatusCallbackEvent": "completed absent",
    }
    redirect = root.find("Redirect")
    assert redirect is not None and redirect.text == "http://localhost/ivr/record"

    ticket = rows.ticket(twilio.call_sid)
    topic = rows.topic(ticket.topic_id)
    assert topic.code == code
    assert ticket.department_id == topic.department_id
    assert ticket.routing_reason.startswith(f"Bàn phím: phím {digit}")
    assert rows.call(twilio.call_sid).state == CallState.RECORDING


def test_star_repeats_the_menu_without_using_a_try(twilio, rows, xml) -> None:
    first = twilio.incoming()
    again = twilio.press("*")

    assert xml.verbs(again) == ["Gather", "Redirect"]
    assert xml.spoken(first).endswith(xml.spoken(again))  # the menu, without the greeting
    gather = again.find("Gather")
    assert gather is not None and gather.attrib["action"].endswith("attempt=0")
    assert rows.call(twilio.call_sid).menu_tries == 0


def test_nine_switches_to_english_for_prompts_and_transcription(twilio, rows, xml) -> None:
    twilio.incoming()
    root = twilio.press("9")

    says = root.findall(".//Say")
    assert all(s.attrib["language"] == "en-US" for s in says)
    assert all(s.attrib["voice"] == "Google.en-US-Standard-C" for s in says)
    assert "Welcome to the business support hotline." in xml.spoken(root)
    assert "For tax, press 1." in xml.spoken(root)
    assert "For English" not in xml.spoken(root)
    assert rows.ticket(twilio.call_sid).language == Language.EN
    assert rows.call(twilio.call_sid).language == Language.EN

    root = twilio.press("1")
    assert xml.spoken(root).startswith("You chose: Tax. Please leave a message after the beep")


def test_three_wrong_keys_take_the_message_under_anything_else(twilio, rows, xml) -> None:
    twilio.incoming()
    first = twilio.press("7")
    assert xml.spoken(first).startswith("Xin lỗi, phím quý vị vừa bấm không có trong danh sách.")
    assert first.find("Gather").attrib["action"].endswith("attempt=1")  # type: ignore[union-attr]
    second = twilio.press("#")
    assert second.find("Gather").attrib["action"].endswith("attempt=2")  # type: ignore[union-attr]
    third = twilio.press("8")

    assert xml.verbs(third) == ["Say", "Say", "Say", "Record", "Redirect"]
    assert "vào mục Các vấn đề khác" in xml.spoken(third)
    ticket = rows.ticket(twilio.call_sid)
    assert rows.topic(ticket.topic_id).code == "khac"
    assert ticket.routing_reason == "Không chọn được mục sau 3 lần: Các vấn đề khác"
    assert rows.call(twilio.call_sid).menu_tries == 3


def test_silence_repeats_the_menu_then_takes_a_message(twilio, rows, xml) -> None:
    twilio.incoming()
    first = twilio.silence()
    assert xml.spoken(first).startswith("Xin lỗi, chúng tôi chưa nhận được lựa chọn của quý vị.")
    assert xml.verbs(first) == ["Say", "Gather", "Redirect"]
    twilio.silence()
    last = twilio.silence()
    assert "Record" in xml.verbs(last)
    assert rows.topic(rows.ticket(twilio.call_sid).topic_id).code == "khac"


# --- the message --------------------------------------------------------------------------------


def test_a_message_is_kept_read_back_texted_and_queued(app: Flask, rt, twilio, rows, xml) -> None:
    twilio.incoming()
    twilio.press("1")
    status_url, record_url = twilio.recording_status_url(), twilio.record_url()
    recording = twilio.recording()

    response = twilio.post(status_url, RecordingStatus="completed", **recording)
    assert response.status_code == 200
    assert queued(rt, "transcription") == ["process_recording"]
    (row,) = rows.recordings(twilio.call_sid)
    assert row.recording_sid == recording["RecordingSid"]
    assert row.source_url == recording["RecordingUrl"]
    assert (row.status, row.twilio_duration_s) == (RecordingStatus.PENDING, 12)

    root = twilio.step(record_url, Digits="#", **recording)
    ticket = rows.ticket(twilio.call_sid)
    assert (ticket.kind, ticket.status) == (TicketKind.MESSAGE, TicketStatus.OPEN)
    digits = ", ".join(ticket.number or "")
    said = xml.spoken(root)
    assert said.startswith("Cảm ơn quý vị đã để lại lời nhắn.")
    assert f"Số phiếu của quý vị là: {digits}. Xin nhắc lại, số phiếu: {digits}." in said
    # Monday 09:00 + 4 working hours = 15:00 the same day (11:30-13:30 is lunch).
    assert "Cán bộ sẽ gọi lại cho quý vị trước 15 giờ chiều nay." in said
    assert "gửi tin nhắn xác nhận" in said
    assert xml.verbs(root)[-1] == "Hangup"
    assert ticket.callback_due_at == local(2026, 11, 30, 15, 0)
    assert rows.call(twilio.call_sid).state == CallState.RECORDED

    assert queued(rt, "default") == ["send_sms"]
    drain(rt.queues["default"])
    telephony = app.extensions["telephony"]
    assert isinstance(telephony, FakeTelephony)
    (sms,) = telephony.sent
    assert sms.to == "+84912345678"
    assert f"Số phiếu: {ticket.number}." in sms.body
    assert "trước 15:00 ngày 30/11/2026" in sms.body

    assert twilio.status("completed", "95").status_code == 200
    call = rows.call(twilio.call_sid)
    assert (call.state, call.duration_s, call.twilio_status) == (CallState.ENDED, 95, "completed")
    ticket = rows.ticket(twilio.call_sid)
    assert (ticket.kind, ticket.status) == (TicketKind.MESSAGE, TicketStatus.OPEN)


def test_an_english_caller_gets_english_read_back_and_sms(app: Flask, rt, twilio, xml) -> None:
    twilio.incoming()
    twilio.press("9")
    twilio.press("5")
    root = twilio.step(twilio.record_url(), Digits="#", **twilio.recording())
    said = xml.spoken(root)
    assert said.startswith("Thank you for your message. Your ticket number is: ")
    assert "An officer will call you back by 3:00 PM today." in said
    drain(rt.queues["default"])
    (sms,) = app.extensions["telephony"].sent
    assert sms.body.startswith("Business support hotline: we have received your message.")


def test_no_sms_to_a_hidden_number(app: Flask, rt, twilio, xml) -> None:
    twilio.caller = "anonymous"
    twilio.incoming()
    twilio.press("1")
    root = twilio.step(twilio.record_url(), Digits="#", **twilio.recording())
    assert "tin nhắn xác nhận" not in xml.spoken(root)
    assert queued(rt, "default") == []


@pytest.fixture
def no_sms_config(app_config: dict[str, Any]) -> dict[str, Any]:
    app_config["HOTLINE_SMS_CONFIRMATION"] = "false"
    return app_config


def test_no_sms_when_disabled(no_sms_config, rt, twilio, xml) -> None:
    twilio.incoming()
    twilio.press("1")
    root = twilio.step(twilio.record_url(), Digits="#", **twilio.recording())
    assert "tin nhắn xác nhận" not in xml.spoken(root)
    assert "Số phiếu của quý vị là:" in xml.spoken(root)
    assert queued(rt, "default") == []


def test_silence_at_the_beep_is_a_missed_call_still_given_a_number(rt, twilio, rows, xml) -> None:
    twilio.incoming()
    twilio.press("3")
    status_url, record_url = twilio.recording_status_url(), twilio.record_url()
    absent = twilio.post(status_url, RecordingStatus="absent", RecordingSid="RE" + "a" * 32)
    assert absent.status_code == 200
    ticket = rows.ticket(twilio.call_sid)
    assert (ticket.kind, ticket.status) == (TicketKind.MISSED_CALL, TicketStatus.OPEN)
    assert rows.topic(ticket.topic_id).code == "dau-tu"
    assert ticket.callback_due_at is not None

    # Nothing recorded: Twilio skips the action and follows the Redirect after <Record>.
    root = twilio.step(record_url)
    said = xml.spoken(root)
    assert said.startswith("Chúng tôi chưa nhận được lời nhắn của quý vị")
    assert "Số phiếu của quý vị là:" in said
    assert rows.recordings(twilio.call_sid) == []
    assert queued(rt, "transcription") == []


def test_hang_up_during_recording_keeps_the_message(rt, twilio, rows) -> None:
    twilio.incoming()
    twilio.press("2")
    status_url = twilio.recording_status_url()
    # The call ends first; the recording callback arrives once Twilio has processed the file.
    assert twilio.status("completed", "41").status_code == 200
    ticket = rows.ticket(twilio.call_sid)
    assert (ticket.kind, ticket.status) == (TicketKind.MISSED_CALL, TicketStatus.OPEN)

    recording = twilio.recording()
    assert twilio.post(status_url, RecordingStatus="completed", **recording).status_code == 200
    ticket = rows.ticket(twilio.call_sid)
    assert (ticket.kind, ticket.status) == (TicketKind.MESSAGE, TicketStatus.OPEN)
    assert [r.recording_sid for r in rows.recordings(twilio.call_sid)] == [
        recording["RecordingSid"]
    ]
    assert queued(rt, "transcription") == ["process_recording"]
    assert [e.action for e in rows.events(ticket.id)] == ["status_changed", "kind_changed"]
    assert queued(rt, "default") == []  # no record action, no SMS promised


def test_recording_callback_before_the_end_of_the_call(twilio, rows) -> None:
    twilio.incoming()
    twilio.press("4")
    twilio.post(twilio.recording_status_url(), RecordingStatus="completed", **twilio.recording())
    twilio.status("completed", "50")
    ticket = rows.ticket(twilio.call_sid)
    assert (ticket.kind, ticket.status) == (TicketKind.MESSAGE, TicketStatus.OPEN)
    assert rows.call(twilio.call_sid).state == CallState.ENDED


# --- calls that end without a message -----------------------------------------------------------


@pytest.mark.parametrize("status", ["completed", "busy", "no-answer", "failed", "canceled"])
def test_hang_up_in_the_menu_is_a_missed_call_for_anything_else(status, twilio, rows) -> None:
    twilio.incoming()
    assert twilio.status(status, "20").status_code == 200
    ticket = rows.ticket(twilio.call_sid)
    assert (ticket.kind, ticket.status) == (TicketKind.MISSED_CALL, TicketStatus.OPEN)
    assert rows.topic(ticket.topic_id).code == "khac"
    assert ticket.department_id is not None
    assert ticket.callback_due_at is not None
    call = rows.call(twilio.call_sid)
    assert (call.state, call.twilio_status, call.duration_s) == (CallState.ENDED, status, 20)


def test_a_very_short_call_is_closed_but_counted(twilio, rows) -> None:
    twilio.incoming()
    twilio.status("completed", "3")
    ticket = rows.ticket(twilio.call_sid)
    assert (ticket.kind, ticket.status) == (TicketKind.MISSED_CALL, TicketStatus.RESOLVED)
    assert ticket.routing_reason == "Cuộc gọi quá ngắn"
    assert ticket.resolved_at is not None
    assert "dưới 5 giây" in (ticket.resolution_note or "")


def test_a_status_callback_for_an_unknown_call_still_makes_a_ticket(twilio, rows) -> None:
    twilio.status("no-answer", "0")
    ticket = rows.ticket(twilio.call_sid)
    assert ticket.status == TicketStatus.RESOLVED  # 0 seconds: nobody to call back
    other = type(twilio)(twilio.client, twilio.token)
    other.status("completed", "30")
    assert rows.ticket(other.call_sid).status == TicketStatus.OPEN


def test_non_final_call_statuses_change_nothing_but_the_status(twilio, rows) -> None:
    twilio.incoming()
    twilio.status("ringing", "")
    call = rows.call(twilio.call_sid)
    assert (call.state, call.ended_at, call.twilio_status) == (CallState.MENU, None, "ringing")
    assert rows.ticket(twilio.call_sid).status == TicketStatus.IN_CALL


# --- office hours and holidays ------------------------------------------------------------------


def test_out_of_hours_says_when_the_office_opens_and_still_takes_a_message(
    clock, twilio, rows, xml
) -> None:
    clock.now = local(2026, 11, 27, 20, 0)  # Friday evening
    root = twilio.incoming()
    said = xml.spoken(root)
    assert "Hiện đã ngoài giờ làm việc." in said
    assert "Văn phòng sẽ làm việc trở lại lúc 7 giờ 30 sáng thứ Hai, ngày 30 tháng 11." in said
    assert "Quý vị vẫn có thể để lại lời nhắn" in said
    assert xml.verbs(root)[-2:] == ["Gather", "Redirect"]
    assert rows.call(twilio.call_sid).after_hours is True

    twilio.press("1")
    root = twilio.step(twilio.record_url(), Digits="#", **twilio.recording())
    # Four working hours from the Monday opening: 11:30, the end of the morning.
    assert "trước 11 giờ 30 trưa thứ Hai, ngày 30 tháng 11." in xml.spoken(root)
    assert rows.ticket(twilio.call_sid).callback_due_at == local(2026, 11, 30, 11, 30)


def test_a_public_holiday_is_named(clock, twilio, xml) -> None:
    clock.now = local(2026, 9, 1, 10, 0)  # Tuesday, the day beside National Day
    said = xml.spoken(twilio.incoming())
    assert "Hôm nay là ngày nghỉ lễ Quốc khánh." in said
    assert "trở lại lúc 7 giờ 30 sáng thứ Năm, ngày 3 tháng 9." in said


def test_the_closed_notice_is_said_once_not_at_each_menu(clock, twilio, xml) -> None:
    clock.now = local(2026, 9, 1, 10, 0)
    twilio.incoming()
    for key in ("9", "*", "7"):
        assert "holiday" not in xml.spoken(twilio.press(key))
    assert "nghỉ lễ" not in xml.spoken(twilio.last)


def test_lunch_break(clock, twilio, xml) -> None:
    clock.now = local(2026, 11, 30, 12, 0)
    said = xml.spoken(twilio.incoming())
    assert "Hiện là giờ nghỉ trưa." in said
    assert "trở lại lúc 13 giờ 30 chiều nay." in said


def test_a_missing_calendar_does_not_stop_calls(rt, twilio, xml) -> None:
    from sqlalchemy import delete

    from storage.models import OfficeHours

    with rt.sessions.begin() as session:
        session.execute(delete(OfficeHours))
    said = xml.spoken(twilio.incoming())
    assert "ngoài giờ" not in said
    twilio.press("1")
    root = twilio.step(twilio.record_url(), Digits="#", **twilio.recording())
    assert "Cán bộ sẽ gọi lại cho quý vị trong thời gian sớm nhất." in xml.spoken(root)


# --- replays: Twilio retries, nothing changes ---------------------------------------------------


def test_every_webhook_replayed_changes_nothing(app: Flask, rt, twilio, rows, xml) -> None:
    first = twilio.post("/ivr/incoming")
    again = twilio.post("/ivr/incoming")
    assert first.get_data() == again.get_data()
    number = rows.ticket(twilio.call_sid).number

    wrong = twilio.params(Digits="7")
    menu0 = "http://localhost/ivr/menu?attempt=0"
    a = twilio.post(menu0, wrong)
    b = twilio.post(menu0, wrong)
    assert a.get_data() == b.get_data()
    assert rows.call(twilio.call_sid).menu_tries == 1

    pick = twilio.params(Digits="1")
    menu1 = "http://localhost/ivr/menu?attempt=1"
    a = twilio.post(menu1, pick)
    b = twilio.post(menu1, pick)
    assert xml.verbs(xml.parse(b)) == ["Say", "Say", "Record", "Redirect"]
    assert xml.spoken(xml.parse(a)) == xml.spoken(xml.parse(b))

    recording = twilio.params(RecordingStatus="completed", **twilio.recording())
    for _ in range(3):
        assert twilio.post("/ivr/recording-status", recording).status_code == 200
    assert len(rows.recordings(twilio.call_sid)) == 1

    record = twilio.params(Digits="#", **twilio.recording(sid=recording["RecordingSid"]))
    a = twilio.post("/ivr/record", record)
    b = twilio.post("/ivr/record", record)
    assert xml.spoken(xml.parse(a)) == xml.spoken(xml.parse(b))
    assert queued(rt, "default") == ["send_sms"]

    ended = twilio.params(CallStatus="completed", CallDuration="70")
    twilio.post("/ivr/status", ended)
    ended_at = rows.call(twilio.call_sid).ended_at
    later = twilio.params(CallStatus="completed", CallDuration="99")
    twilio.post("/ivr/status", later)
    call = rows.call(twilio.call_sid)
    assert (call.ended_at, call.duration_s) == (ended_at, 70)

    ticket = rows.ticket(twilio.call_sid)
    assert ticket.number == number
    assert (ticket.kind, ticket.status) == (TicketKind.MESSAGE, TicketStatus.OPEN)
    assert rows.count(Call) == rows.count(Ticket) == 1
    assert rows.count(Recording) == 1
    assert [e.to_value for e in rows.events(ticket.id)] == ["open"]
    drain(rt.queues["default"])
    assert len(app.extensions["telephony"].sent) == 1
    assert rows.count(AuditEvent) == 2  # opened, SMS sent


def test_a_late_menu_request_after_the_choice_repeats_the_record_prompt(twilio, xml) -> None:
    twilio.incoming()
    twilio.press("1")
    late = twilio.step("http://localhost/ivr/menu?attempt=0", Digits="3")
    assert xml.spoken(late).startswith("Quý vị đã chọn: Thuế.")
    twilio.step(twilio.record_url(), Digits="#", **twilio.recording())
    after = twilio.step("/ivr/incoming")
    assert xml.verbs(after) == ["Say", "Hangup"]


# --- reference data: read once per process, changes heard at once -------------------------------


def another_call(twilio: Any) -> Any:
    """The same Twilio placing a new call (a new CallSid)."""
    return dataclasses.replace(twilio, call_sid="CA" + uuid.uuid4().hex, last=None)


def test_webhooks_read_hours_holidays_and_topics_once_per_process(rt: Runtime, twilio) -> None:
    from sqlalchemy import event

    tables = ("office_hours", "holidays", "topics")
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if any(f"FROM {t}" in statement for t in tables):
            seen.append(statement)

    event.listen(rt.engine, "before_cursor_execute", note)
    try:
        twilio.incoming()
        twilio.press("1")
        first_call = len(seen)
        assert first_call > 0
        second = another_call(twilio)
        second.incoming()
        second.press("1")
        assert seen[first_call:] == []
    finally:
        event.remove(rt.engine, "before_cursor_execute", note)


def test_a_renamed_topic_is_heard_by_the_next_caller(rt: Runtime, twilio, xml) -> None:
    from sqlalchemy import select

    assert "Hải quan, xuất nhập khẩu" in xml.spoken(twilio.incoming())
    with rt.sessions.begin() as session:
        topic = session.scalars(select(Topic).where(Topic.digit == "5")).one()
        topic.name_vi = "Hải quan và cửa khẩu"
        topic.prompt_vi = ""
    said = xml.spoken(another_call(twilio).incoming())
    assert "Hải quan và cửa khẩu" in said
    assert "Hải quan, xuất nhập khẩu" not in said
