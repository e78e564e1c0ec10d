"""What callers hear and read: Vietnamese first, digits one by one, times said naturally."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ivr import prompts, twiml
from ivr.menu import MenuOption, Miss
from storage.models import Language

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
VI, EN = Language.VI, Language.EN
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=HANOI)  # Monday morning


@pytest.mark.parametrize(
    ("at", "vi", "en"),
    [
        (datetime(2026, 11, 30, 15, 0), "15 giờ chiều nay", "3:00 PM today"),
        (datetime(2026, 11, 30, 11, 30), "11 giờ 30 trưa nay", "11:30 AM today"),
        (datetime(2026, 12, 1, 7, 30), "7 giờ 30 sáng mai", "7:30 AM tomorrow"),
        (
            datetime(2026, 12, 3, 13, 30),
            "13 giờ 30 chiều thứ Năm, ngày 3 tháng 12",
            "1:30 PM on Thursday, 3 December",
        ),
        (
            datetime(2027, 1, 4, 7, 30),
            "7 giờ 30 sáng thứ Hai, ngày 4 tháng 1 năm 2027",
            "7:30 AM on Monday, 4 January 2027",
        ),
        (datetime(2026, 12, 6, 19, 0), "19 giờ tối Chủ nhật, ngày 6 tháng 12", None),
        (datetime(2026, 11, 30, 8, 5), "8 giờ 5 phút sáng nay", "8:05 AM today"),
    ],
)
def test_times_are_said_relative_to_today(at: datetime, vi: str, en: str | None) -> None:
    moment = at.replace(tzinfo=HANOI)
    assert prompts.spoken_time(moment, now=NOW, tz=HANOI, language=VI) == vi
    if en is not None:
        assert prompts.spoken_time(moment, now=NOW, tz=HANOI, language=EN) == en


def test_the_ticket_number_is_read_digit_by_digit_twice() -> None:
    line = prompts.ticket_number(VI, "371828")
    assert line.text == (
        "Số phiếu của quý vị là: 3, 7, 1, 8, 2, 8. Xin nhắc lại, số phiếu: 3, 7, 1, 8, 2, 8."
    )
    assert prompts.heard_ticket_number(line.text) == "371828"
    assert prompts.heard_ticket_number(prompts.ticket_number(EN, "905112").text) == "905112"
    assert prompts.heard_ticket_number("Xin chào") is None


def test_menu_lines_come_from_the_topics_and_custom_prompts_win() -> None:
    options = [
        MenuOption("1", "Thuế", "Tax"),
        MenuOption("0", "Các vấn đề khác", "Anything else"),
        MenuOption("2", "Đất đai – xây dựng", "Land and construction", prompt_vi="Đất, bấm 2."),
    ]
    vi, english = prompts.menu(VI, options)
    assert vi.text == (
        "Xin chọn lĩnh vực cần hỗ trợ. Thuế, bấm phím 1. Đất, bấm 2. "
        "Các vấn đề khác, bấm phím 0. Nghe lại, bấm phím sao."
    )
    assert (english.text, english.language) == ("For English, press 9.", EN)
    (en,) = prompts.menu(EN, options)
    assert "For land and construction, press 2." in en.text


def test_miss_messages_are_polite_and_distinct() -> None:
    assert prompts.menu_miss(VI, Miss.INVALID).text != prompts.menu_miss(VI, Miss.NO_INPUT).text
    assert prompts.menu_miss(VI, Miss.INVALID).text.startswith("Xin lỗi")


def test_holiday_names_are_said_without_their_asides() -> None:
    status = prompts.OfficeStatus(
        is_open=False,
        holiday_vi="Nghỉ bù Giỗ Tổ Hùng Vương (10/3 âm lịch rơi vào Chủ nhật)",
        holiday_en="Hung Kings' Commemoration (in lieu)",
        next_opening=datetime(2026, 4, 28, 7, 30, tzinfo=HANOI),
    )
    now = datetime(2026, 4, 27, 9, 0, tzinfo=HANOI)
    vi = [line.text for line in prompts.closed_notice(VI, status, now=now, tz=HANOI)]
    assert vi[0] == "Hôm nay là ngày nghỉ lễ Nghỉ bù Giỗ Tổ Hùng Vương."
    assert vi[1] == "Văn phòng sẽ làm việc trở lại lúc 7 giờ 30 sáng mai."
    en = [line.text for line in prompts.closed_notice(EN, status, now=now, tz=HANOI)]
    assert en[0] == "Today is a public holiday: Hung Kings' Commemoration."
    assert prompts.closed_notice(VI, prompts.OfficeStatus(is_open=True), now=now, tz=HANOI) == []


def test_the_sms_is_short_and_dated_day_first() -> None:
    due = datetime(2026, 11, 30, 15, 0, tzinfo=HANOI)
    vi = prompts.sms_confirmation(VI, number="371828", message=True, due=due, tz=HANOI)
    assert vi == (
        "Tổng đài hỗ trợ doanh nghiệp đã nhận lời nhắn của quý vị. Số phiếu: 371828. "
        "Cán bộ sẽ gọi lại trước 15:00 ngày 30/11/2026."
    )
    assert len(vi) <= 140  # two SMS parts in UCS-2
    missed = prompts.sms_confirmation(VI, number="1", message=False, due=None, tz=HANOI)
    assert missed == "Tổng đài hỗ trợ doanh nghiệp đã nhận cuộc gọi của quý vị. Số phiếu: 1."


def test_every_prompt_has_vietnamese_diacritics() -> None:
    texts = [
        prompts.greeting(VI).text,
        prompts.record_instructions(VI, 180).text,
        prompts.thanks(VI).text,
        prompts.no_message(VI).text,
        prompts.goodbye(VI).text,
        prompts.apology_take_message(180).text,
        prompts.apology_after_record().text,
    ]
    for text in texts:
        assert any(ord(ch) > 127 for ch in text), text
    assert "dài tối đa 90 giây" in prompts.record_instructions(VI, 90).text
    assert "up to 1 minute" in prompts.record_instructions(EN, 60).text


def test_recorded_prompts_replace_fixed_lines_only() -> None:
    voices = twiml.Voices(vi="v", en="e", prompt_audio_url="https://cdn.example/prompts/")
    lines = [prompts.greeting(VI), prompts.ticket_number(VI, "12")]
    response = twiml.hang_up(lines, voices)
    xml = str(response)
    assert "<Play>https://cdn.example/prompts/vi/greeting.mp3</Play>" in xml
    assert '<Say language="vi-VN" voice="v">Số phiếu của quý vị là: 1, 2.' in xml
    assert all(line.key in prompts.PROMPT_FILES for line in lines if line.key)


@pytest.mark.parametrize(
    ("due", "promise"),
    [
        (datetime(2026, 12, 1, 8, 2), "trước 8 giờ 5 phút sáng mai."),
        (datetime(2026, 12, 1, 8, 0), "trước 8 giờ sáng mai."),
        (datetime(2026, 12, 1, 8, 0, 1), "trước 8 giờ 5 phút sáng mai."),
        (datetime(2026, 12, 1, 11, 57), "trước 12 giờ trưa mai."),
    ],
)
def test_the_promised_time_is_rounded_up_to_five_minutes(due: datetime, promise: str) -> None:
    line = prompts.callback_promise(VI, due.replace(tzinfo=HANOI), now=NOW, tz=HANOI, sms=False)
    assert line.text.endswith(promise)
