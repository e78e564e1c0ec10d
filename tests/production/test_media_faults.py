"""Faults at Twilio's media URL and in the audio, through the whole system.

Each test places real signed calls, runs the worker's queue, and reads the rows: a caller's
message is never lost, a failure is stated on the recording (which the ticket page shows),
and one bad recording never affects another.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask

from hotline.runtime import Runtime
from storage.db import transaction
from storage.models import RecordingStatus, TicketKind, TicketStatus, utcnow
from transcription.services import retry_recording


def test_a_message_goes_from_the_webhook_to_a_transcript(
    phone: Any, media: Any, wav: bytes, rows: Any, worker: Any
) -> None:
    url = media.script("RE" + "a" * 32, media.reply(wav))
    call_sid, sid = phone.leave_message(url)
    assert rows.recording(sid).status == RecordingStatus.PENDING
    assert worker() == 1
    recording = rows.recording(sid)
    assert recording.status == RecordingStatus.TRANSCRIBED
    assert recording.audio_bytes == len(wav)
    assert [t.engine for t in rows.transcripts(recording.id)] == ["fake"]
    ticket = rows.ticket_of_call(call_sid)
    assert ticket.kind == TicketKind.MESSAGE and ticket.status == TicketStatus.OPEN


def test_404_for_a_while_then_200_is_retried_with_backoff(
    app_config: dict[str, Any], media: Any, wav: bytes, request: pytest.FixtureRequest
) -> None:
    # Twilio answers 404 for a few seconds after the recording callback.
    app_config["HOTLINE_DOWNLOAD_RETRIES"] = "2"
    phone, rows, worker = (request.getfixturevalue(n) for n in ("phone", "rows", "worker"))
    missing = media.reply(b"", status=404)
    url = media.script("RE" + "b" * 32, missing, missing, media.reply(wav))
    _, sid = phone.leave_message(url)
    started = time.monotonic()
    worker()
    waited = time.monotonic() - started
    recording = rows.recording(sid)
    assert recording.status == RecordingStatus.TRANSCRIBED
    assert len(media.hits) == 3
    assert waited >= 3.0  # backoff: 1 s, then 2 s
    assert len(rows.transcripts(recording.id)) == 1


def test_401_fails_at_once_with_a_clear_error_and_an_officer_can_retry(
    app: Flask, rt: Runtime, phone: Any, media: Any, wav: bytes, rows: Any, worker: Any
) -> None:
    sid = "RE" + "c" * 32
    url = media.script(sid, media.reply(b"", status=401))
    call_sid, _ = phone.leave_message(url)
    worker()
    recording = rows.recording(sid)
    assert recording.status == RecordingStatus.FAILED
    assert recording.error is not None and "download_unauthorized" in recording.error
    assert "401" in recording.error
    assert len(media.hits) == 1  # no retry fixes a wrong token
    # The ticket goes on without a transcript: still in the queue for a callback.
    assert rows.ticket_of_call(call_sid).status == TicketStatus.OPEN

    # The account is fixed; the officer presses "try again".
    media.script(sid, media.reply(wav))
    with transaction(rt.sessions) as db:
        assert retry_recording(db, recording.id, now=utcnow())
    app.extensions["jobs"].enqueue("process_recording", recording.id)
    worker()
    assert rows.recording(sid).status == RecordingStatus.TRANSCRIBED


def test_a_media_url_that_never_answers_fails_clearly_after_the_retries(
    app_config: dict[str, Any], media: Any, request: pytest.FixtureRequest
) -> None:
    app_config.update({"HOTLINE_DOWNLOAD_TIMEOUT_S": "1", "HOTLINE_TRANSCRIBE_RETRIES": "1"})
    phone, rows, worker = (request.getfixturevalue(n) for n in ("phone", "rows", "worker"))
    sid = "RE" + "d" * 32
    url = media.script(sid, media.reply(b"", delay_s=3.0))
    call_sid, _ = phone.leave_message(url)
    started = time.monotonic()
    worker()
    recording = rows.recording(sid)
    assert time.monotonic() - started < 15
    assert recording.status == RecordingStatus.FAILED
    assert recording.error is not None and "download_timeout" in recording.error
    assert recording.audio_key is None
    assert rows.ticket_of_call(call_sid).status == TicketStatus.OPEN


BAD_AUDIO = {
    "empty": (b"", "audio/x-wav", "audio_empty"),
    "not audio": (b"<html><body>Service Unavailable</body></html>", "text/html", "audio_"),
    "random bytes": (bytes(range(256)) * 64, "audio/x-wav", "audio_"),
    "truncated header": (b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/x-wav", "audio_"),
}


@pytest.mark.parametrize("case", [*BAD_AUDIO, "far too long"])
def test_bad_audio_fails_that_recording_only(
    case: str,
    app_config: dict[str, Any],
    media: Any,
    wav: bytes,
    make_wav: Any,
    request: pytest.FixtureRequest,
) -> None:
    app_config["HOTLINE_MAX_AUDIO_SECONDS"] = "10"
    phone, rows, worker = (request.getfixturevalue(n) for n in ("phone", "rows", "worker"))
    if case == "far too long":
        body, content_type, code = make_wav(25.0), "audio/x-wav", "audio_too_long"
    else:
        body, content_type, code = BAD_AUDIO[case]
    bad_url = media.script("RE" + "e" * 32, media.reply(body, content_type=content_type))
    good_url = media.script("RE" + "f" * 32, media.reply(wav))
    bad_call, bad_sid = phone.leave_message(bad_url)
    good_call, good_sid = phone.leave_message(good_url)
    worker()
    bad = rows.recording(bad_sid)
    assert bad.status == RecordingStatus.FAILED
    assert bad.error is not None and bad.error.startswith(code), bad.error
    assert rows.transcripts(bad.id) == []
    # What arrived is kept for an officer to hear (or not), with its checksum.
    assert bad.audio_bytes == len(body)
    good = rows.recording(good_sid)
    assert good.status == RecordingStatus.TRANSCRIBED
    assert len(rows.transcripts(good.id)) == 1
    for call_sid in (bad_call, good_call):
        assert rows.ticket_of_call(call_sid).status == TicketStatus.OPEN
