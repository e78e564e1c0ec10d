"""The call simulator against a live hotline on loopback, and its recording server."""

from __future__ import annotations

import math
import struct
import threading
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from ivr.simulate import CallSimulator, RecordingServer, audio_seconds
from storage.models import CallState, RecordingStatus, TicketKind, TicketStatus

ACCOUNT_SID = "AC" + "0" * 32


def write_wav(path: Path, seconds: float = 2.0, rate: int = 8000) -> Path:
    """Write a short 8 kHz mono tone, like a phone recording."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return path


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def simulator(live_url: str, token: str, heard: list[str], **options: object) -> CallSimulator:
    return CallSimulator(
        base_url=live_url,
        auth_token=token,
        account_sid=ACCOUNT_SID,
        caller="+84912345678",
        called="+842223999999",
        echo=heard.append,
        **options,  # type: ignore[arg-type]
    )


def test_recording_server_asks_for_basic_auth_like_twilio(tmp_path) -> None:
    audio = write_wav(tmp_path / "m.wav").read_bytes()
    with RecordingServer(audio, account_sid=ACCOUNT_SID, auth_token="tok") as media:
        url = media.url_for("RE" + "1" * 32)
        assert "." not in url.rsplit("/", 1)[-1]  # no extension, like Twilio's RecordingUrl
        session = requests.Session()
        session.trust_env = False
        assert session.get(url + ".wav", timeout=5).status_code == 401
        assert session.get(url + ".wav", auth=(ACCOUNT_SID, "bad"), timeout=5).status_code == 401
        assert session.get(url + ".mp3", auth=(ACCOUNT_SID, "tok"), timeout=5).status_code == 404
        assert not media.fetched.is_set()
        response = session.get(url + ".wav", auth=(ACCOUNT_SID, "tok"), timeout=5)
        assert response.status_code == 200
        assert response.content == audio
        assert response.headers["Content-Type"] == "audio/x-wav"
        assert media.fetched.wait(5)  # set after the body is written: wait, do not race


def test_without_an_account_sid_the_token_alone_is_checked(tmp_path) -> None:
    with RecordingServer(b"RIFF", auth_token="tok") as media:
        url = media.url_for("RE" + "2" * 32) + ".wav"
        assert "/Accounts/AC" + "0" * 32 + "/" in url
        session = requests.Session()
        session.trust_env = False
        assert session.get(url, timeout=5).status_code == 200  # no credentials to send
        assert session.get(url, auth=("", "tok"), timeout=5).status_code == 200
        assert session.get(url, auth=("", "bad"), timeout=5).status_code == 401


def test_audio_length_is_read_from_the_wav(tmp_path) -> None:
    assert audio_seconds(write_wav(tmp_path / "a.wav", seconds=1.5)) == pytest.approx(1.5)
    # G.711 mu-law, as Twilio records calls: 8000 bytes a second, which `wave` cannot open.
    fmt = struct.pack("<HHIIHH", 7, 1, 8000, 8000, 1, 8) + b"\x00\x00"
    body = b"\xff" * 12000
    mulaw = (
        b"RIFF"
        + struct.pack("<I", 4 + 26 + 8 + len(body))
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(body))
        + body
    )
    (tmp_path / "m.wav").write_bytes(mulaw)
    assert audio_seconds(tmp_path / "m.wav") == pytest.approx(1.5)
    (tmp_path / "b.wav").write_bytes(b"not a wav")
    assert audio_seconds(tmp_path / "b.wav") == 10.0


def test_a_simulated_call_leaves_a_message(live_url, token, tmp_path, rows) -> None:
    audio = write_wav(tmp_path / "m.wav").read_bytes()
    heard: list[str] = []
    with RecordingServer(audio, account_sid=ACCOUNT_SID, auth_token=token) as media:
        journey = simulator(live_url, token, heard, digits="71", recording_seconds=12.0).run(media)

    assert journey.pressed == ["7", "1"]
    assert journey.statuses == {
        "incoming": 200,
        "menu": 200,
        "recording-status": 200,
        "record": 200,
        "status": 200,
    }
    ticket = rows.ticket(journey.call_sid)
    assert journey.ticket_number_heard == ticket.number
    assert (ticket.kind, ticket.status) == (TicketKind.MESSAGE, TicketStatus.OPEN)
    (recording,) = rows.recordings(journey.call_sid)
    assert recording.source_url == journey.recording_url
    assert recording.status == RecordingStatus.PENDING
    assert rows.call(journey.call_sid).state == CallState.ENDED
    transcript = "\n".join(heard)
    assert "caller presses 7" in transcript
    assert "Xin lỗi, phím quý vị vừa bấm không có trong danh sách." in transcript
    assert "(the hotline hangs up)" in transcript
    assert rows.call(journey.call_sid).duration_s > 12


def test_a_simulated_hang_up_during_recording(live_url, token, tmp_path, rows) -> None:
    audio = write_wav(tmp_path / "m.wav").read_bytes()
    heard: list[str] = []
    with RecordingServer(audio, account_sid=ACCOUNT_SID, auth_token=token) as media:
        journey = simulator(live_url, token, heard, digits="2", hangup_during_recording=True).run(
            media
        )
    assert "record" not in journey.statuses
    assert journey.ticket_number_heard is None
    ticket = rows.ticket(journey.call_sid)
    assert (ticket.kind, ticket.status) == (TicketKind.MESSAGE, TicketStatus.OPEN)
    assert len(rows.recordings(journey.call_sid)) == 1


def test_a_simulated_silent_caller(live_url, token, rows) -> None:
    heard: list[str] = []
    journey = simulator(live_url, token, heard, digits="", silence=True).run(None)
    assert journey.pressed == []
    assert heard.count("  caller says nothing") == 3
    ticket = rows.ticket(journey.call_sid)
    assert (ticket.kind, ticket.status) == (TicketKind.MISSED_CALL, TicketStatus.OPEN)
    assert journey.ticket_number_heard == ticket.number
    assert rows.recordings(journey.call_sid) == []


def test_a_wrong_token_is_reported_not_crashed(live_url, rows) -> None:
    heard: list[str] = []
    journey = simulator(live_url, "wrong-token", heard).run(None)
    assert journey.statuses["incoming"] == 403
    assert any("answered HTTP 403" in line for line in heard)
