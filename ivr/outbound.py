"""Click-to-call webhooks: connect a staff member to the caller, and log how the call went.

The hotline rings the staff member's own phone through Twilio's REST API (see
`tickets.services.start_click_to_call`); these are the URLs announced in that request:

- `POST /ivr/outbound/<attempt>/connect` (the call's `url`): when the staff member answers,
  TwiML that says who is being called and <Dial>s the caller with the hotline's number as
  caller ID, so the caller sees the number they rang and can call it again;
- `POST /ivr/outbound/<attempt>/dial-result` (the <Dial> `action`): the caller's leg ended;
  DialCallStatus and DialCallDuration say whether they answered and for how long;
- `POST /ivr/outbound/<attempt>/status` (the call's `statusCallback`): the staff leg's
  progress, and why it failed if the staff phone never connected.

Every route validates Twilio's signature. The number dialled is read from the attempt row,
never from the request, so a signed request cannot be turned into a call to anywhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, g, request, url_for
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from ivr.errors import BadWebhook
from ivr.options import IvrOptions
from ivr.signature import twilio_signed
from storage.models import utcnow
from tickets.services import dial_target, record_dial_result, record_staff_leg

log = logging.getLogger(__name__)

bp = Blueprint("ivr_outbound", __name__, url_prefix="/ivr/outbound")

PREFIX = "/ivr/outbound"
# Seconds the caller's phone rings before Twilio gives up (its default is 30).
DIAL_TIMEOUT_S = 30


def connect_path(attempt_id: int) -> str:
    """Return the path of the TwiML that connects attempt `attempt_id` (for the REST call)."""
    return f"{PREFIX}/{attempt_id}/connect"


def status_path(attempt_id: int) -> str:
    """Return the path of the staff leg's status callback for attempt `attempt_id`."""
    return f"{PREFIX}/{attempt_id}/status"


@bp.post("/<int(max=2147483647):attempt_id>/connect")
@twilio_signed
def connect(attempt_id: int) -> Response:
    """Connect the staff member who answered to the caller, or apologise and hang up."""
    db, options = _db(), _options()
    number = dial_target(db, attempt_id=attempt_id, call_sid=_call_sid(request.form))
    response = VoiceResponse()
    if number is None:
        log.warning("click-to-call %s: no attempt in progress for this call", attempt_id)
        _say(response, options, "Cuộc gọi lại này không còn hiệu lực. Xin cảm ơn.")
        response.hangup()
        return _xml(response)
    _say(response, options, "Đang nối máy tới người gọi đến đường dây nóng, xin chờ.")
    dial = response.dial(
        caller_id=options.phone_number or None,
        action=_absolute(options, "ivr_outbound.dial_result", attempt_id=attempt_id),
        method="POST",
        timeout=DIAL_TIMEOUT_S,
        # Keep the staff member hearing the ringback until the caller picks up.
        answer_on_bridge=True,
    )
    dial.number(number)
    return _xml(response)


@bp.post("/<int(max=2147483647):attempt_id>/dial-result")
@twilio_signed
def dial_result(attempt_id: int) -> Response:
    """Log whether the caller answered and how long they talked; tell the staff member."""
    db, options = _db(), _options()
    status = request.form.get("DialCallStatus", "").strip()
    if not status:
        raise BadWebhook("missing DialCallStatus")
    attempt = record_dial_result(
        db,
        attempt_id=attempt_id,
        call_sid=_call_sid(request.form),
        status=status,
        duration_s=_seconds(request.form, "DialCallDuration"),
        now=_now(),
    )
    db.commit()
    response = VoiceResponse()
    if attempt is not None and attempt.answered is False:
        _say(
            response,
            options,
            "Người gọi không nghe máy. Xin ghi kết quả cuộc gọi trên hệ thống. Xin cảm ơn.",
        )
    response.hangup()
    return _xml(response)


@bp.post("/<int(max=2147483647):attempt_id>/status")
@twilio_signed
def call_status(attempt_id: int) -> Response:
    """Log the staff leg's progress (Twilio retries this; replays change nothing)."""
    db = _db()
    status = request.form.get("CallStatus", "").strip()
    if not status:
        raise BadWebhook("missing CallStatus")
    record_staff_leg(
        db,
        attempt_id=attempt_id,
        call_sid=_call_sid(request.form),
        status=status,
        duration_s=_seconds(request.form, "CallDuration"),
        now=_now(),
    )
    db.commit()
    return _xml(VoiceResponse())


@bp.errorhandler(BadWebhook)
def bad_webhook(exc: BadWebhook) -> Response:
    """Answer a malformed request with 400 and a log line, writing nothing."""
    _db().rollback()
    log.warning("400 on %s: %s", request.path, exc)
    return Response(f"Bad request: {exc}\n", status=400, mimetype="text/plain")


@bp.errorhandler(Exception)
def unexpected_error(exc: Exception) -> Response | HTTPException:
    """Roll back and log; the staff member hears an apology instead of Twilio's error."""
    if isinstance(exc, HTTPException):
        return exc
    _db().rollback()
    log.exception("click-to-call webhook %s failed", request.path)
    if request.endpoint != "ivr_outbound.connect":
        return Response("Internal error\n", status=500, mimetype="text/plain")
    response = VoiceResponse()
    _say(response, _options(), "Xin lỗi, hệ thống đang gặp sự cố. Xin gọi trực tiếp cho người gọi.")
    response.hangup()
    return _xml(response)


def _db() -> Session:
    db: Session = g.db
    return db


def _options() -> IvrOptions:
    options: IvrOptions = current_app.extensions["ivr.options"]
    return options


def _now() -> datetime:
    clock: Callable[[], datetime] | None = current_app.config.get("HOTLINE_CLOCK")
    return clock() if clock is not None else utcnow()


def _call_sid(form: Mapping[str, str]) -> str:
    sid = form.get("CallSid", "").strip()
    if not sid:
        raise BadWebhook("missing CallSid")
    return sid


def _seconds(form: Mapping[str, str], name: str) -> int | None:
    raw = form.get(name, "").strip()
    if not raw.isdigit() or len(raw) > 7:
        return None
    return int(raw)


def _say(response: VoiceResponse, options: IvrOptions, text: str) -> None:
    response.say(text, voice=options.voice_vi, language="vi-VN")


def _absolute(options: IvrOptions, endpoint: str, **values: Any) -> str:
    # Twilio signs the URL it requests: announce the public one when it is configured.
    if options.public_url:
        return options.public_url.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def _xml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")
