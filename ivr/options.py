"""What the phone line needs from the settings, as one typed value.

The composition root builds it from `hotline.config.Settings` (this package may not import
`hotline`), so views, jobs and tests read typed fields instead of reaching into app config.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IvrOptions:
    # Twilio signs every webhook with the account's auth token; empty means every request is
    # refused (never "skip the check").
    auth_token: str = ""
    account_sid: str = ""
    phone_number: str = ""
    voice_vi: str = "Google.vi-VN-Standard-A"
    voice_en: str = "Google.en-US-Standard-C"
    # Base URL of recorded prompt files ({base}/{vi|en}/{key}.mp3); empty: text to speech.
    prompt_audio_url: str = ""
    menu_max_tries: int = 3
    record_max_seconds: int = 180
    # Seconds of keypad silence before a menu counts as "no input".
    menu_timeout_s: int = 6
    missed_call_min_seconds: int = 5
    sms_confirmation: bool = True
    timezone: str = "Asia/Ho_Chi_Minh"
    # The public base URL Twilio calls (e.g. https://hotline.example.gov.vn); empty: the URL of
    # the request as rebuilt by ProxyFix.
    public_url: str = ""
    default_sla_hours: float = 4.0
