"""Everything a caller hears or reads, in Vietnamese (first) and English.

Rules: polite ("quý vị"), short sentences, one idea each; numbers read digit by digit with a
pause between digits (a comma makes text to speech pause); times in the 24-hour clock with the
part of the day ("7 giờ 30 sáng"), dates as "ngày 30 tháng 11" when spoken (unambiguous for
text to speech) and as dd/mm/yyyy when written.

A `Line` with a `key` is fixed text: when recorded prompt files are configured the caller hears
`{base}/{vi|en}/{key}.mp3` instead (greeting, menu, ...; `PROMPT_FILES` lists them). Lines with
changing content (ticket numbers, times, holiday names, topic names) are always spoken.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ivr.menu import ENGLISH_KEY, MenuOption, Miss, menu_order
from storage.models import Language

VI = Language.VI
EN = Language.EN

# The recorded prompt files an installation may provide, per language folder.
PROMPT_FILES = (
    "greeting",
    "menu",
    "english_option",
    "invalid_key",
    "no_input",
    "record_instructions",
    "thanks",
    "no_message",
    "goodbye",
    "apology_take_message",
    "apology_after_record",
)


@dataclass(frozen=True)
class Line:
    text: str
    language: Language = VI
    key: str | None = None


def _pick(language: Language, vi: str, en: str) -> str:
    return en if language == EN else vi


# --- the welcome and office hours ---------------------------------------------------------------


def greeting(language: Language) -> Line:
    """Return the welcome."""
    text = _pick(
        language,
        "Xin chào quý vị. Đây là Tổng đài hỗ trợ doanh nghiệp.",
        "Welcome to the business support hotline.",
    )
    return Line(text, language, "greeting")


@dataclass(frozen=True)
class OfficeStatus:
    """Whether the office answers now, and if not why and until when."""

    is_open: bool
    holiday_vi: str | None = None
    holiday_en: str | None = None
    lunch_break: bool = False
    next_opening: datetime | None = None


def closed_notice(
    language: Language, status: OfficeStatus, *, now: datetime, tz: ZoneInfo
) -> list[Line]:
    """Return what a caller hears when the office is closed (nothing when it is open)."""
    if status.is_open:
        return []
    lines: list[Line] = []
    if status.holiday_vi:
        name_vi = _speakable(status.holiday_vi)
        name_en = _speakable(status.holiday_en or "") or name_vi
        lines.append(
            Line(
                _pick(
                    language,
                    f"Hôm nay là ngày nghỉ lễ {name_vi}.",
                    f"Today is a public holiday: {name_en}.",
                ),
                language,
            )
        )
    elif status.lunch_break:
        lines.append(
            Line(
                _pick(language, "Hiện là giờ nghỉ trưa.", "The office is closed for lunch."),
                language,
            )
        )
    else:
        lines.append(
            Line(
                _pick(language, "Hiện đã ngoài giờ làm việc.", "The office is closed now."),
                language,
            )
        )
    if status.next_opening is not None:
        when = spoken_time(status.next_opening, now=now, tz=tz, language=language)
        lines.append(
            Line(
                _pick(
                    language,
                    f"Văn phòng sẽ làm việc trở lại lúc {when}.",
                    f"The office opens again at {when}.",
                ),
                language,
            )
        )
    lines.append(
        Line(
            _pick(
                language,
                "Quý vị vẫn có thể để lại lời nhắn, cán bộ sẽ gọi lại khi văn phòng làm việc.",
                "You can still leave a message, and an officer will call you back "
                "when the office opens.",
            ),
            language,
        )
    )
    return lines


# --- the menu -----------------------------------------------------------------------------------


def menu(language: Language, options: Sequence[MenuOption]) -> list[Line]:
    """Return the topic menu, with the English option (spoken in English) on the Vietnamese one."""
    parts = [_pick(language, "Xin chọn lĩnh vực cần hỗ trợ.", "Please choose a subject.")]
    for option in menu_order(options):
        if language == EN:
            custom = option.prompt_en
            name = _speakable(option.name_en or option.name_vi)
            default = f"For {name[:1].lower() + name[1:]}, press {option.digit}."
        else:
            custom = option.prompt_vi
            default = f"{_speakable(option.name_vi)}, bấm phím {option.digit}."
        parts.append(custom.strip() or default)
    parts.append(
        _pick(language, "Nghe lại, bấm phím sao.", "To hear the options again, press star.")
    )
    lines = [Line(" ".join(parts), language, "menu")]
    if language == VI:
        lines.append(Line(f"For English, press {ENGLISH_KEY}.", EN, "english_option"))
    return lines


def menu_miss(language: Language, miss: Miss) -> Line:
    """Return what the caller hears after a wrong key or silence."""
    if miss == Miss.INVALID:
        text = _pick(
            language,
            "Xin lỗi, phím quý vị vừa bấm không có trong danh sách.",
            "Sorry, that key is not one of the options.",
        )
        return Line(text, language, "invalid_key")
    text = _pick(
        language,
        "Xin lỗi, chúng tôi chưa nhận được lựa chọn của quý vị.",
        "Sorry, we did not receive your choice.",
    )
    return Line(text, language, "no_input")


def chosen(language: Language, topic_name: str) -> Line:
    """Confirm the caller's topic."""
    name = _speakable(topic_name)
    return Line(_pick(language, f"Quý vị đã chọn: {name}.", f"You chose: {name}."), language)


def fallback(language: Language, topic_name: str) -> Line:
    """Say the message goes under "anything else" after the tries ran out."""
    name = _speakable(topic_name)
    return Line(
        _pick(
            language,
            f"Chúng tôi sẽ ghi nhận câu hỏi của quý vị vào mục {name}.",
            f"We will take your question under: {name}.",
        ),
        language,
    )


# --- the message --------------------------------------------------------------------------------


def record_instructions(language: Language, max_seconds: int) -> Line:
    """Tell the caller what to say and how to finish."""
    if language == EN:
        limit = _duration_en(max_seconds)
        text = (
            f"Please leave a message after the beep, up to {limit}. "
            "Please state your business name, a phone number to call you back on, "
            "and your question. When you have finished, press the hash key."
        )
    else:
        limit = _duration_vi(max_seconds)
        text = (
            f"Xin quý vị để lại lời nhắn sau tiếng bíp, dài tối đa {limit}. "
            "Xin nói rõ tên doanh nghiệp, số điện thoại để cán bộ gọi lại, "
            "và nội dung cần hỗ trợ. Nói xong, xin bấm phím thăng."
        )
    return Line(text, language, "record_instructions")


def thanks(language: Language) -> Line:
    """Thank the caller for the message."""
    text = _pick(language, "Cảm ơn quý vị đã để lại lời nhắn.", "Thank you for your message.")
    return Line(text, language, "thanks")


def no_message(language: Language) -> Line:
    """Say no message was heard, but the call is on record."""
    text = _pick(
        language,
        "Chúng tôi chưa nhận được lời nhắn của quý vị, nhưng cuộc gọi này đã được ghi nhận.",
        "We did not receive a message, but your call has been logged.",
    )
    return Line(text, language, "no_message")


_NUMBER_INTRO = {VI: "Số phiếu của quý vị là:", EN: "Your ticket number is:"}
_NUMBER_AGAIN = {VI: "Xin nhắc lại, số phiếu:", EN: "Again, your ticket number is:"}
# For the simulator and tests: find the number in what the caller heard.
TICKET_NUMBER_PATTERN = re.compile(
    "(?:" + "|".join(re.escape(t) for t in _NUMBER_INTRO.values()) + r")\s*([\d,\s]+\d)"
)


def ticket_number(language: Language, number: str) -> Line:
    """Read the ticket number digit by digit, twice."""
    digits = ", ".join(ch for ch in number if ch.isdigit())
    return Line(
        f"{_NUMBER_INTRO[language]} {digits}. {_NUMBER_AGAIN[language]} {digits}.", language
    )


def heard_ticket_number(text: str) -> str | None:
    """Return the ticket number read out in `text`, if any."""
    match = TICKET_NUMBER_PATTERN.search(text)
    return re.sub(r"\D", "", match.group(1)) if match else None


def callback_promise(
    language: Language, due: datetime | None, *, now: datetime, tz: ZoneInfo, sms: bool
) -> Line:
    """Say when an officer will call back (and that an SMS confirms it)."""
    if due is None:
        text = _pick(
            language,
            "Cán bộ sẽ gọi lại cho quý vị trong thời gian sớm nhất.",
            "An officer will call you back as soon as possible.",
        )
    else:
        when = spoken_time(promised(due), now=now, tz=tz, language=language)
        text = _pick(
            language,
            f"Cán bộ sẽ gọi lại cho quý vị trước {when}.",
            f"An officer will call you back by {when}.",
        )
    if sms:
        text += " " + _pick(
            language,
            "Chúng tôi sẽ gửi tin nhắn xác nhận đến số máy của quý vị.",
            "We will send a confirmation by text message.",
        )
    return Line(text, language)


def goodbye(language: Language) -> Line:
    """Close the call."""
    return Line(
        _pick(language, "Xin cảm ơn và chào tạm biệt.", "Thank you, goodbye."), language, "goodbye"
    )


# --- when something breaks ----------------------------------------------------------------------


def apology_take_message(max_seconds: int) -> Line:
    """Apologise for a fault and still take the message (Vietnamese: the language is unknown)."""
    return Line(
        "Xin lỗi quý vị, hệ thống đang gặp sự cố. "
        f"Xin quý vị vẫn để lại lời nhắn sau tiếng bíp, dài tối đa {_duration_vi(max_seconds)}: "
        "tên doanh nghiệp, số điện thoại và nội dung cần hỗ trợ. Nói xong, xin bấm phím thăng.",
        VI,
        "apology_take_message",
    )


def apology_after_record() -> Line:
    """Apologise for a fault after the message, when the number cannot be read out."""
    return Line(
        "Xin lỗi quý vị, hệ thống đang gặp sự cố nên chưa thể đọc số phiếu. "
        "Cán bộ sẽ gọi lại cho quý vị theo số máy này. Xin cảm ơn và chào tạm biệt.",
        VI,
        "apology_after_record",
    )


# --- the confirmation SMS -----------------------------------------------------------------------


def sms_confirmation(
    language: Language, *, number: str, message: bool, due: datetime | None, tz: ZoneInfo
) -> str:
    """Return the confirmation SMS; short, since a Vietnamese SMS part holds 70 characters."""
    if language == EN:
        what = "message" if message else "call"
        text = f"Business support hotline: we have received your {what}. Ticket number: {number}."
        if due is not None:
            local = promised(due).astimezone(tz)
            text += f" An officer will call you back by {local:%H:%M} on {local:%d/%m/%Y}."
        return text
    what = "lời nhắn" if message else "cuộc gọi"
    text = f"Tổng đài hỗ trợ doanh nghiệp đã nhận {what} của quý vị. Số phiếu: {number}."
    if due is not None:
        local = promised(due).astimezone(tz)
        text += f" Cán bộ sẽ gọi lại trước {local:%H:%M} ngày {local:%d/%m/%Y}."
    return text


def promised(due: datetime) -> datetime:
    """Return the callback time promised to the caller: the due time rounded up to 5 minutes.

    "Before 8:05" is easier to hear and remember than "before 8:02", and never earlier than
    the officers' own deadline.
    """
    extra = (-due.minute) % 5
    rounded = due.replace(second=0, microsecond=0) + timedelta(minutes=extra)
    if extra == 0 and (due.second or due.microsecond):
        rounded += timedelta(minutes=5)
    return rounded


# --- times and durations, spoken ----------------------------------------------------------------

_WEEKDAYS_VI = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
_WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def spoken_time(at: datetime, *, now: datetime, tz: ZoneInfo, language: Language) -> str:
    """Say when: "13 giờ 30 chiều nay", "7 giờ 30 sáng thứ Hai, ngày 30 tháng 11"."""
    local = at.astimezone(tz)
    today = now.astimezone(tz).date()
    if language == EN:
        hour12 = local.hour % 12 or 12
        clock = f"{hour12}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"
        if local.date() == today:
            return f"{clock} today"
        if local.date() == today + timedelta(days=1):
            return f"{clock} tomorrow"
        text = (
            f"{clock} on {_WEEKDAYS_EN[local.weekday()]}, {local.day} {_MONTHS_EN[local.month - 1]}"
        )
        return text + (f" {local.year}" if local.year != today.year else "")
    minutes = {0: "", 30: " 30"}.get(local.minute, f" {local.minute} phút")
    clock = f"{local.hour} giờ{minutes}"
    part = _part_of_day_vi(local.hour)
    if local.date() == today:
        return f"{clock} {part} nay"
    if local.date() == today + timedelta(days=1):
        return f"{clock} {part} mai"
    text = f"{clock} {part} {_WEEKDAYS_VI[local.weekday()]}, ngày {local.day} tháng {local.month}"
    return text + (f" năm {local.year}" if local.year != today.year else "")


def _part_of_day_vi(hour: int) -> str:
    if hour < 11:
        return "sáng"
    if hour < 13:
        return "trưa"
    if hour < 18:
        return "chiều"
    return "tối"


def _duration_vi(seconds: int) -> str:
    return f"{seconds // 60} phút" if seconds % 60 == 0 else f"{seconds} giây"


def _duration_en(seconds: int) -> str:
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute" + ("s" if minutes != 1 else "")
    return f"{seconds} seconds"


def _speakable(name: str) -> str:
    """Drop asides in brackets and read a dash as a pause ("Đất đai – xây dựng")."""
    name = re.sub(r"\s*\([^)]*\)", "", name)
    return re.sub(r"\s+[–—-]\s+", ", ", name).strip()
