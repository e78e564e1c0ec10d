"""How values look on the pages: local times as dd/mm/yyyy, Vietnamese phone numbers, durations.

Times are stored in UTC and shown in the office's time zone (a setting, Asia/Ho_Chi_Minh);
dates are written day first in both languages, as Vietnamese officers expect.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from flask import Flask, current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup


def office_tz() -> ZoneInfo:
    """Return the office's time zone from the settings."""
    return ZoneInfo(current_app.config["HOTLINE_SETTINGS"].timezone)


def local_datetime(moment: datetime | None) -> str:
    """Return e.g. '27/11/2026 09:30' in the office's time zone ('' for None)."""
    if moment is None:
        return ""
    return moment.astimezone(office_tz()).strftime("%d/%m/%Y %H:%M")


def local_date(moment: datetime | None) -> str:
    """Return e.g. '27/11/2026' in the office's time zone."""
    if moment is None:
        return ""
    return moment.astimezone(office_tz()).strftime("%d/%m/%Y")


def iso(moment: datetime | None) -> str:
    """Return ISO 8601 with the office's offset, for <time datetime=...>."""
    if moment is None:
        return ""
    return moment.astimezone(office_tz()).isoformat(timespec="minutes")


def phone_national(number: str | None) -> str:
    """Return a caller's number as Vietnamese officers write it: '0912 345 678'.

    Foreign numbers keep their international form; withheld or malformed numbers are shown as
    Twilio gave them (Twilio reports a withheld caller ID as e.g. '+266696687' or 'anonymous').
    """
    if not number:
        return str(_("withheld number"))
    try:
        parsed = phonenumbers.parse(number, "VN")
    except phonenumbers.NumberParseException:
        return number
    if not phonenumbers.is_valid_number(parsed):
        # An unknown range still reads best in the trunk form officers dial: 0 + the digits.
        if parsed.country_code == 84 and parsed.national_number:
            return f"0{parsed.national_number}"
        return number
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if parsed.country_code == 84
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return str(phonenumbers.format_number(parsed, fmt))


def phone_dial(number: str | None) -> str:
    """Return the number in E.164 for a tel: link ('' if it cannot be dialled)."""
    if not number:
        return ""
    try:
        parsed = phonenumbers.parse(number, "VN")
    except phonenumbers.NumberParseException:
        return ""
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def duration(delta: timedelta | float | None) -> str:
    """Return a short duration: '45 phút', '2 giờ 05 phút', '3 ngày 4 giờ'."""
    if delta is None:
        return ""
    seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return str(_("%(d)s d %(h)s h", d=days, h=hours))
    if hours:
        return str(_("%(h)s h %(m)02d min", h=hours, m=mins))
    return str(_("%(m)s min", m=mins))


def seconds_clock(value: float | None) -> str:
    """Return a position in a recording as m:ss."""
    if value is None:
        return ""
    whole = int(value)
    return f"{whole // 60}:{whole % 60:02d}"


def due_label(due: datetime | None, now: datetime) -> str:
    """Return 'due in 1 h 20 min' or 'overdue by 35 min'."""
    if due is None:
        return ""
    if due < now:
        return str(_("overdue by %(t)s", t=duration(now - due)))
    return str(_("due in %(t)s", t=duration(due - now)))


def display_name(obj: Any) -> str:
    """Return a department's, topic's or holiday's name in the interface language."""
    if obj is None:
        return ""
    if str(get_locale()) == "en" and getattr(obj, "name_en", None):
        return str(obj.name_en)
    vietnamese = getattr(obj, "name_vi", None)
    if vietnamese:
        return str(vietnamese)
    plain: object = getattr(obj, "name", "")
    return str(plain)


def nl2br(text: str | None) -> Markup:
    """Return text with line breaks kept, HTML-escaped."""
    if not text:
        return Markup("")
    return Markup("<br>").join(Markup.escape(line) for line in text.splitlines())


def init_app(app: Flask) -> None:
    """Register the template filters."""
    app.jinja_env.filters.update(
        local_datetime=local_datetime,
        local_date=local_date,
        iso=iso,
        phone=phone_national,
        phone_dial=phone_dial,
        duration=duration,
        clock=seconds_clock,
        nl2br=nl2br,
        name=display_name,
    )
