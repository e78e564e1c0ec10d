"""Twilio's REST API behind a Protocol: SMS to callers, and calls placed for click-to-call.

`TwilioTelephony` is used whenever TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are set; its base
URL is HOTLINE_TWILIO_API_URL (https://api.twilio.com by default), so a local fake of Twilio's
REST API can receive its requests in tests and demos. `ivr.fakes.FakeTelephony` stands in
otherwise. Nothing connects when these objects are built.
"""

from __future__ import annotations

import logging
from typing import Protocol

import phonenumbers
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from ivr.errors import TelephonyError

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.twilio.com"
CALL_STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]


class Telephony(Protocol):
    """What the hotline asks of a telephone provider."""

    def send_sms(self, *, to: str, body: str) -> str:
        """Send a text message; return the provider's message id."""
        ...

    def place_call(
        self,
        *,
        to: str,
        url: str | None = None,
        twiml: str | None = None,
        status_callback: str | None = None,
        caller_id: str | None = None,
    ) -> str:
        """Ring `to`; when answered run the TwiML at `url` (or `twiml`); return the call id."""
        ...


def can_receive_sms(number: str) -> bool:
    """Say whether `number` (E.164) is a mobile phone worth texting."""
    if not number.startswith("+"):
        return False  # "anonymous", "client:...", SIP: no number to text
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False
    kind = phonenumbers.number_type(parsed)
    return phonenumbers.is_valid_number(parsed) and kind in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


class TwilioTelephony:
    """Telephony through Twilio's REST API (the official `twilio` client)."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        phone_number: str,
        api_url: str = DEFAULT_API_URL,
        timeout_s: float = 10.0,
    ) -> None:
        self.account_sid = account_sid
        self._auth_token = auth_token
        self.phone_number = phone_number
        self.api_url = api_url.rstrip("/") or DEFAULT_API_URL
        self.timeout_s = timeout_s

    def client(self) -> Client:
        """Return a REST client whose requests go to `api_url`.

        A new client per use: they are cheap, and a shared `requests` session across the
        worker's threads is not worth the doubt.
        """
        # environment={} keeps TWILIO_REGION/TWILIO_EDGE from rewriting the host; the "api"
        # domain's base_url is where Messages.json and Calls.json are sent.
        client = Client(
            self.account_sid,
            self._auth_token,
            http_client=TwilioHttpClient(timeout=self.timeout_s),
            environment={},
        )
        client.api.base_url = self.api_url
        return client

    def send_sms(self, *, to: str, body: str) -> str:
        if not self.phone_number:
            raise TelephonyError("TWILIO_PHONE_NUMBER is not set: no sender", transient=False)
        try:
            message = self.client().messages.create(to=to, from_=self.phone_number, body=body)
        except Exception as exc:
            raise _telephony_error("SMS", exc) from exc
        log.info("SMS %s sent to %s", message.sid, to)
        return str(message.sid)

    def place_call(
        self,
        *,
        to: str,
        url: str | None = None,
        twiml: str | None = None,
        status_callback: str | None = None,
        caller_id: str | None = None,
    ) -> str:
        sender = caller_id or self.phone_number
        if not sender:
            raise TelephonyError("TWILIO_PHONE_NUMBER is not set: no caller id", transient=False)
        if (url is None) == (twiml is None):
            raise ValueError("give exactly one of url and twiml")
        options: dict[str, object] = {"to": to, "from_": sender}
        if url is not None:
            options["url"] = url
        if twiml is not None:
            options["twiml"] = twiml
        if status_callback is not None:
            options.update(
                status_callback=status_callback,
                status_callback_event=CALL_STATUS_EVENTS,
                status_callback_method="POST",
            )
        try:
            call = self.client().calls.create(**options)
        except Exception as exc:
            raise _telephony_error("call", exc) from exc
        log.info("call %s placed to %s", call.sid, to)
        return str(call.sid)


def _telephony_error(what: str, exc: Exception) -> TelephonyError:
    if isinstance(exc, TwilioRestException):
        # 429 and 5xx may pass; 4xx (a bad number, an unverified sender) will not.
        transient = exc.status == 429 or exc.status >= 500
        detail = f"Twilio refused the {what}: HTTP {exc.status}, code {exc.code}: {exc.msg}"
        return TelephonyError(detail, transient=transient, status=exc.status)
    if isinstance(exc, requests.RequestException):
        return TelephonyError(f"Twilio unreachable for the {what}: {exc}", transient=True)
    if isinstance(exc, TwilioException):
        return TelephonyError(f"Twilio error for the {what}: {exc}", transient=True)
    return TelephonyError(f"{what} failed: {exc!r}", transient=False)
