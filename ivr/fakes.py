"""A telephone provider that only remembers: for tests, demos and machines without Twilio."""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass

from ivr.errors import TelephonyError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SentSms:
    sid: str
    to: str
    body: str


@dataclass(frozen=True)
class PlacedCall:
    sid: str
    to: str
    url: str | None
    twiml: str | None
    status_callback: str | None
    caller_id: str | None


class FakeTelephony:
    """Keeps sent messages and placed calls in memory and logs them; sends nothing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent: list[SentSms] = []
        self.calls: list[PlacedCall] = []
        # Set by a test to make the next operations fail this way.
        self.fail_with: TelephonyError | None = None

    def send_sms(self, *, to: str, body: str) -> str:
        self._maybe_fail()
        sms = SentSms(sid="SM" + uuid.uuid4().hex, to=to, body=body)
        with self._lock:
            self.sent.append(sms)
        log.info("fake SMS %s to %s: %s", sms.sid, to, body)
        return sms.sid

    def place_call(
        self,
        *,
        to: str,
        url: str | None = None,
        twiml: str | None = None,
        status_callback: str | None = None,
        caller_id: str | None = None,
    ) -> str:
        self._maybe_fail()
        call = PlacedCall(
            sid="CA" + uuid.uuid4().hex,
            to=to,
            url=url,
            twiml=twiml,
            status_callback=status_callback,
            caller_id=caller_id,
        )
        with self._lock:
            self.calls.append(call)
        log.info("fake call %s to %s", call.sid, to)
        return call.sid

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with
