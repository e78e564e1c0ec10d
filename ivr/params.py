"""Twilio's request parameters, read and checked once, at the edge.

CamelCase names (CallSid, RecordingUrl ...) stop here; the rest of the package sees typed
values. A missing or malformed identifying parameter raises `BadWebhook` (answered 400 with a
log line); a malformed optional one (a duration) is logged and dropped, so a caller's message is
never refused because of a detail.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from ivr.errors import BadWebhook

log = logging.getLogger(__name__)

# Twilio SIDs: two letters naming the kind, then 32 hexadecimal digits.
_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
_RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")
_PHONE_FIELD_MAX = 32  # the width of the phone columns
_URL_MAX = 2000

CALL_TERMINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
CALL_STATUSES = CALL_TERMINAL_STATUSES | {"queued", "initiated", "ringing", "in-progress"}
RECORDING_STATUSES = frozenset({"in-progress", "completed", "absent", "failed"})


@dataclass(frozen=True)
class CallParams:
    call_sid: str
    caller: str
    called: str


@dataclass(frozen=True)
class RecordingParams:
    sid: str
    url: str
    duration_s: int | None


@dataclass(frozen=True)
class CallStatusParams:
    status: str
    duration_s: int | None


def call_params(form: Mapping[str, str]) -> CallParams:
    """Read the parameters every call webhook carries."""
    call_sid = _required(form, "CallSid")
    if not _CALL_SID.match(call_sid):
        raise BadWebhook(f"malformed CallSid {call_sid[:40]!r}")
    return CallParams(
        call_sid=call_sid,
        caller=_phone(form.get("From", "")),
        called=_phone(form.get("To", "")),
    )


def attempt(args: Mapping[str, str]) -> int:
    """Read the menu's attempt number from the action URL (absent: the first attempt)."""
    raw = args.get("attempt", "0")
    if not raw.isdigit() or len(raw) > 3:
        raise BadWebhook(f"malformed attempt {raw[:20]!r}")
    return int(raw)


def digits(form: Mapping[str, str]) -> str | None:
    """Read the keys pressed; None when the caller pressed nothing (the Redirect after Gather)."""
    value = form.get("Digits")
    return value[:10] if value else None


def recording(form: Mapping[str, str], *, required: bool) -> RecordingParams | None:
    """Read the recording's SID, media URL and duration (None when absent and not required)."""
    sid = form.get("RecordingSid", "").strip()
    url = form.get("RecordingUrl", "").strip()
    if not sid and not url and not required:
        return None
    if not sid:
        raise BadWebhook("missing RecordingSid")
    if not _RECORDING_SID.match(sid):
        raise BadWebhook(f"malformed RecordingSid {sid[:40]!r}")
    if not url:
        raise BadWebhook("missing RecordingUrl")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > _URL_MAX:
        raise BadWebhook(f"malformed RecordingUrl {url[:80]!r}")
    return RecordingParams(sid=sid, url=url, duration_s=_seconds(form, "RecordingDuration"))


def recording_status(form: Mapping[str, str]) -> str:
    """Read RecordingStatus (completed, absent, ...)."""
    status = _required(form, "RecordingStatus")
    if status not in RECORDING_STATUSES:
        raise BadWebhook(f"unknown RecordingStatus {status[:30]!r}")
    return status


def call_status(form: Mapping[str, str]) -> CallStatusParams:
    """Read CallStatus and CallDuration of a call status callback."""
    status = _required(form, "CallStatus")
    if status not in CALL_STATUSES:
        raise BadWebhook(f"unknown CallStatus {status[:30]!r}")
    return CallStatusParams(status=status, duration_s=_seconds(form, "CallDuration"))


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise BadWebhook(f"missing {name}")
    return value


def _seconds(form: Mapping[str, str], name: str) -> int | None:
    raw = form.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 7:
        log.warning("ignoring malformed %s=%r", name, raw[:20])
        return None
    return int(raw)


def _phone(raw: str) -> str:
    # Caller ID may be "+8491...", "anonymous", "client:alice" or a long SIP URI; keep what
    # fits, it is a hint for the callback, not an identity.
    # Control characters (a NUL byte above all) are never part of a number, and PostgreSQL
    # rejects NUL in text: drop them rather than lose the call.
    value = "".join(ch for ch in raw if ch.isprintable()).strip()
    if len(value) > _PHONE_FIELD_MAX:
        log.warning("truncating caller id %r to %d characters", value[:60], _PHONE_FIELD_MAX)
        value = value[:_PHONE_FIELD_MAX]
    return value
