"""Twilio's webhooks: thin adapters from a signed request to one service call and TwiML.

Entry points fixed by ARCHITECTURE.md: POST /ivr/incoming ("A call comes in") and POST
/ivr/status ("Call status changes"). The others are announced inside the TwiML.

Each view: check the signature, read the parameters (400 on a malformed one), call the
service, commit, then enqueue work (never before the commit), answer TwiML. The clock is
`app.config["HOTLINE_CLOCK"]` when set (a callable returning an aware datetime: tests freeze
time with it), else the real UTC time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, g, request, url_for
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from ivr import params, prompts, services, twiml
from ivr.errors import BadWebhook
from ivr.menu import Choice
from ivr.options import IvrOptions
from ivr.signature import twilio_signed
from ivr.telephony import can_receive_sms
from storage.models import Call, CallState, Language, RecordingStatus, Topic, utcnow
from storage.reference_cache import ReferenceCache
from tickets.calendar import OfficeCalendar

log = logging.getLogger(__name__)

bp = Blueprint("ivr", __name__, url_prefix="/ivr")

# Callbacks whose answer Twilio does not play: on a fault they answer 500 (Twilio logs it and
# may retry) instead of an apology nobody would hear.
_CALLBACK_ENDPOINTS = frozenset({"ivr.recording_status", "ivr.call_status"})


@dataclass(frozen=True)
class _Context:
    options: IvrOptions
    db: Session
    now: datetime
    tz: ZoneInfo
    calendar: OfficeCalendar | None
    voices: twiml.Voices
    urls: twiml.Urls


@bp.post("/incoming")
@twilio_signed
def incoming() -> Response:
    """Greet the caller, say if the office is closed, and offer the topic menu."""
    ctx = _context()
    call = _open_call(ctx)
    status = services.office_status(ctx.db, calendar=ctx.calendar, now=ctx.now)
    if call.state == CallState.MENU:
        language = call.language
        before = [
            prompts.greeting(language),
            *prompts.closed_notice(language, status, now=ctx.now, tz=ctx.tz),
        ]
        response = _menu(ctx, before, call)
    else:
        response = _resume(ctx, call)
    ctx.db.commit()
    return _xml(response)


@bp.post("/menu")
@twilio_signed
def menu() -> Response:
    """Apply the key pressed at the menu (or silence, through the Redirect after Gather)."""
    ctx = _context()
    attempt = params.attempt(request.args)
    call = _open_call(ctx)
    if call.state != CallState.MENU:
        response = _resume(ctx, call)  # a replay after the choice was made
    else:
        keypad = _keypad(ctx)
        outcome = services.handle_menu_input(
            ctx.db,
            call=call,
            attempt=attempt,
            digits=params.digits(request.form),
            keypad=keypad,
            max_tries=ctx.options.menu_max_tries,
            now=ctx.now,
        )
        response = _menu_answer(ctx, outcome, keypad)
    ctx.db.commit()
    return _xml(response)


@bp.post("/record")
@twilio_signed
def record() -> Response:
    """Thank the caller, read back the ticket number and callback time, text it, hang up."""
    ctx = _context()
    recording = params.recording(request.form, required=False)
    call = _open_call(ctx)
    farewell = services.finish_message(
        ctx.db,
        call=call,
        recording=recording,
        now=ctx.now,
        calendar=ctx.calendar,
        default_sla_hours=ctx.options.default_sla_hours,
    )
    ticket = farewell.ticket
    sms = ctx.options.sms_confirmation and can_receive_sms(ticket.caller)
    language = ticket.language
    lines = [
        prompts.thanks(language) if farewell.has_message else prompts.no_message(language),
        prompts.ticket_number(language, ticket.number or ""),
        prompts.callback_promise(language, ticket.callback_due_at, now=ctx.now, tz=ctx.tz, sms=sms),
        prompts.goodbye(language),
    ]
    response = twiml.hang_up(lines, ctx.voices)
    ticket_id = ticket.id
    ctx.db.commit()
    if sms and farewell.first_time:
        _enqueue("send_sms", ticket_id)
    return _xml(response)


@bp.post("/recording-status")
@twilio_signed
def recording_status() -> Response:
    """Keep a completed recording (and wake the worker), or mark an absent one as missed."""
    ctx = _context()
    status = params.recording_status(request.form)
    # Only a completed recording has a file; "absent" may name a SID without one.
    recording = params.recording(request.form, required=True) if status == "completed" else None
    call = _open_call(ctx)
    row = services.recording_status(
        ctx.db,
        call=call,
        status=status,
        recording=recording,
        now=ctx.now,
        calendar=ctx.calendar,
        default_sla_hours=ctx.options.default_sla_hours,
    )
    pending = row is not None and row.status == RecordingStatus.PENDING
    recording_id = row.id if row is not None else None
    ctx.db.commit()
    if pending:
        # Also on a replay while still pending: a second wake-up is harmless (jobs claim rows).
        _enqueue("process_recording", recording_id)
    return _xml(twiml.empty())


@bp.post("/status")
@twilio_signed
def call_status() -> Response:
    """Record the end of the call; a call without a message becomes a missed call."""
    ctx = _context()
    report = params.call_status(request.form)
    call = _open_call(ctx)
    services.end_call(
        ctx.db,
        call=call,
        status=report.status,
        duration_s=report.duration_s,
        now=ctx.now,
        calendar=ctx.calendar,
        default_sla_hours=ctx.options.default_sla_hours,
        missed_call_min_seconds=ctx.options.missed_call_min_seconds,
    )
    ctx.db.commit()
    return _xml(twiml.empty())


# --- errors -------------------------------------------------------------------------------------


@bp.errorhandler(BadWebhook)
def bad_webhook(exc: BadWebhook) -> Response:
    """Answer a malformed request with 400 and a log line, writing nothing."""
    _rollback()
    log.warning("400 on %s: %s (form keys: %s)", request.path, exc, sorted(request.form.keys()))
    return Response(f"Bad request: {exc}\n", status=400, mimetype="text/plain")


@bp.errorhandler(Exception)
def unexpected_error(exc: Exception) -> Response | HTTPException:
    """Roll back, log, and let the caller still hear something and leave a message."""
    if isinstance(exc, HTTPException):
        return exc
    _rollback()
    log.exception("webhook %s failed; answering with an apology", request.path)
    if request.endpoint in _CALLBACK_ENDPOINTS:
        return Response("Internal error\n", status=500, mimetype="text/plain")
    options: IvrOptions = current_app.extensions["ivr.options"]
    voices = _voices(options)
    if request.endpoint == "ivr.record":
        # The message is (or will be) kept by the recording callback; do not loop on <Record>.
        return _xml(twiml.hang_up([prompts.apology_after_record()], voices))
    response = twiml.record(
        [prompts.apology_take_message(options.record_max_seconds)],
        urls=_urls(options),
        voices=voices,
        max_seconds=options.record_max_seconds,
    )
    return _xml(response)


# --- helpers ------------------------------------------------------------------------------------


def _context() -> _Context:
    options: IvrOptions = current_app.extensions["ivr.options"]
    db: Session = g.db
    clock: Callable[[], datetime] | None = current_app.config.get("HOTLINE_CLOCK")
    now = clock() if clock is not None else utcnow()
    calendar = _reference().get(
        "office_calendar", db, lambda s: services.office_calendar(s, tz_name=options.timezone)
    )
    return _Context(
        options=options,
        db=db,
        now=now,
        tz=ZoneInfo(options.timezone),
        calendar=calendar,
        voices=_voices(options),
        urls=_urls(options),
    )


def _reference() -> ReferenceCache:
    # Hours, holidays and topics change a few times a year; every webhook reads them.
    cache: ReferenceCache = current_app.extensions["reference"]
    return cache


def _keypad(ctx: _Context) -> services.Keypad:
    return _reference().get("keypad", ctx.db, services.load_keypad)


def _open_call(ctx: _Context) -> Call:
    p = params.call_params(request.form)
    return services.open_call(
        ctx.db,
        call_sid=p.call_sid,
        caller=p.caller,
        called=p.called,
        now=ctx.now,
        calendar=ctx.calendar,
    )


def _menu(ctx: _Context, before: list[prompts.Line], call: Call) -> VoiceResponse:
    keypad = _keypad(ctx)
    return twiml.menu(
        before,
        prompts.menu(call.language, keypad.options),
        attempt=call.menu_tries,
        urls=ctx.urls,
        voices=ctx.voices,
        timeout_s=ctx.options.menu_timeout_s,
    )


def _menu_answer(
    ctx: _Context, outcome: services.MenuOutcome, keypad: services.Keypad
) -> VoiceResponse:
    step = outcome.step
    language = step.state.language
    if step.choice in (Choice.TOPIC, Choice.FALLBACK):
        name = _topic_name(outcome.topic, language)
        before: list[prompts.Line] = []
        if step.miss is not None:
            before.append(prompts.menu_miss(language, step.miss))
        if step.choice == Choice.TOPIC:
            before.append(prompts.chosen(language, name))
        elif name:
            before.append(prompts.fallback(language, name))
        before.append(prompts.record_instructions(language, ctx.options.record_max_seconds))
        return twiml.record(
            before, urls=ctx.urls, voices=ctx.voices, max_seconds=ctx.options.record_max_seconds
        )
    before = []
    if step.choice == Choice.ENGLISH:
        before.append(prompts.greeting(language))
    elif step.choice == Choice.RETRY and step.miss is not None:
        before.append(prompts.menu_miss(language, step.miss))
    return twiml.menu(
        before,
        prompts.menu(language, keypad.options),
        attempt=step.state.tries,
        urls=ctx.urls,
        voices=ctx.voices,
        timeout_s=ctx.options.menu_timeout_s,
    )


def _resume(ctx: _Context, call: Call) -> VoiceResponse:
    """Answer a request that arrives after the call moved on (a Twilio retry)."""
    language = call.language
    if call.state == CallState.MENU:
        return _menu(ctx, [], call)
    if call.state == CallState.RECORDING:
        before = []
        if call.topic is not None:
            before.append(prompts.chosen(language, _topic_name(call.topic, language)))
        before.append(prompts.record_instructions(language, ctx.options.record_max_seconds))
        return twiml.record(
            before, urls=ctx.urls, voices=ctx.voices, max_seconds=ctx.options.record_max_seconds
        )
    return twiml.hang_up([prompts.goodbye(language)], ctx.voices)


def _topic_name(topic: Topic | services.MenuTopic | None, language: Language) -> str:
    if topic is None:
        return ""
    if language == Language.EN and topic.name_en:
        return topic.name_en
    return topic.name_vi


def _voices(options: IvrOptions) -> twiml.Voices:
    return twiml.Voices(
        vi=options.voice_vi, en=options.voice_en, prompt_audio_url=options.prompt_audio_url
    )


def _urls(options: IvrOptions) -> twiml.Urls:
    def absolute(endpoint: str, **values: Any) -> str:
        # Absolute URLs: Twilio signs the URL it requests, and recording callbacks must be
        # absolute. Behind a proxy either ProxyFix or HOTLINE_PUBLIC_URL gives the public one.
        if options.public_url:
            return options.public_url.rstrip("/") + url_for(endpoint, **values)
        return url_for(endpoint, _external=True, **values)

    return twiml.Urls(
        menu=lambda attempt: absolute("ivr.menu", attempt=attempt),
        record=absolute("ivr.record"),
        recording_status=absolute("ivr.recording_status"),
    )


def _xml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


def _rollback() -> None:
    db: Session | None = g.get("db")
    if db is None:
        return
    try:
        db.rollback()
    except Exception:
        log.exception("rollback failed")


def _enqueue(job: str, *args: Any) -> None:
    """Wake the worker; the row is committed already, so a failure here only delays the work."""
    try:
        current_app.extensions["jobs"].enqueue(job, *args)
    except Exception:
        log.exception("could not enqueue %s%r; the periodic sweep will pick it up", job, args)
