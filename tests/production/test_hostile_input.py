"""Hostile input beyond fuzzing: path traversal, oversized bodies, odd bytes in what Twilio passes
on from the phone network (server-side request forgery: test_ssrf.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.audio_store import AudioStoreError, LocalAudioStore
from storage.models import RecordingStatus

# --- path traversal -------------------------------------------------------------------------------

TRAVERSALS = [
    "../../../../etc/passwd",
    "RE" + "a" * 30 + "/../../x",
    "RE..%2f..%2fetc%2fpasswd",
    "/etc/passwd",
    "RE" + "a" * 32 + "\x00.wav",
]


@pytest.mark.parametrize("sid", TRAVERSALS)
def test_a_recording_sid_that_walks_the_file_system_is_refused_and_nothing_written(
    sid: str, phone: Any, media: Any, rows: Any
) -> None:
    before = rows.counts()
    call_sid = "CA" + "8" * 32
    response = phone.post(
        "/ivr/recording-status",
        phone.params(
            call_sid,
            RecordingSid=sid,
            RecordingUrl=media.url("RE" + "8" * 32),
            RecordingStatus="completed",
        ),
    )
    assert response.status_code == 400
    assert rows.counts() == before


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.one_of(st.text(max_size=80), st.text("./\\abc%0", max_size=40)))
def test_no_audio_key_resolves_outside_the_store(key: str) -> None:
    root = Path("/srv/hotline/audio")
    store = LocalAudioStore(root)
    try:
        path = store.path(key)
    except AudioStoreError:
        return
    resolved = Path(os.path.normpath(path))
    assert resolved.is_relative_to(root) and resolved != root


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../hotline/config.py",
        "/static/..%2f..%2fhotline%2fconfig.py",
        "/assets/../../pyproject.toml",
        "/assets/..%2f..%2f..%2fpyproject.toml",
        "/static/%2e%2e/%2e%2e/pyproject.toml",
    ],
)
def test_static_files_do_not_leave_their_folder(path: str, client: Any) -> None:
    response = client.get(path)
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "[project]" not in body and "SECRET_KEY" not in body


# --- oversized requests ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/ivr/incoming", "/ivr/recording-status", "/ivr/status", "/login", "/api/v1/tickets"]
)
def test_a_body_over_one_megabyte_is_refused_before_any_work(
    path: str, phone: Any, rows: Any
) -> None:
    before = rows.counts()
    params = phone.params("CA" + "7" * 32, Padding="x" * (2 * 1024 * 1024))
    response = phone.post(path, params)
    assert response.status_code in (405, 413)  # the API takes no POST at all
    assert rows.counts() == before


def test_a_long_caller_id_and_many_parameters_within_the_limit_still_keep_the_message(
    phone: Any, media: Any, wav: bytes, rows: Any, worker: Any
) -> None:
    sid = "RE" + "6" * 32
    url = media.script(sid, media.reply(wav))
    call_sid = "CA" + "6" * 32
    padding = {f"X{i}": "y" * 100 for i in range(2000)}  # 200 kB of parameters
    response = phone.post(
        "/ivr/recording-status",
        phone.params(
            call_sid,
            From="sip:" + "9" * 5000 + "@carrier.example",
            RecordingSid=sid,
            RecordingUrl=url,
            RecordingStatus="completed",
            **padding,
        ),
    )
    assert response.status_code == 200
    worker()
    assert rows.recording(sid).status == RecordingStatus.TRANSCRIBED


# --- odd bytes from the phone network -------------------------------------------------------------


@pytest.mark.parametrize(
    "caller",
    ["+8491\x002345678", "<script>alert(1)</script>", "' OR 1=1 --", "+84 91 234 5678\r\n"],
)
def test_an_odd_caller_id_still_keeps_the_message(
    caller: str,
    app: Flask,
    phone: Any,
    media: Any,
    wav: bytes,
    rows: Any,
) -> None:
    sid = "RE" + "5" * 32
    url = media.script(sid, media.reply(wav))
    call_sid = "CA" + "5" * 32
    recording = {"RecordingSid": sid, "RecordingUrl": url, "RecordingDuration": "5"}
    for path, extra in [
        ("/ivr/incoming", {}),
        ("/ivr/recording-status", {**recording, "RecordingStatus": "completed"}),
        ("/ivr/status", {"CallStatus": "completed", "CallDuration": "30"}),
    ]:
        response = phone.post(path, phone.params(call_sid, From=caller, **extra))
        assert response.status_code == 200, path
    assert rows.recording(sid).status == RecordingStatus.PENDING
