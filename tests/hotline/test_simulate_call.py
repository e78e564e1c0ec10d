"""`hotline simulate-call` end to end: a live hotline on loopback, the CLI playing Twilio."""

from __future__ import annotations

import math
import struct
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from werkzeug.serving import make_server

from hotline.runtime import Runtime
from storage.models import Recording, RecordingStatus, Ticket, TicketKind, TicketStatus


def write_wav(path: Path, seconds: float = 3.0, rate: int = 8000) -> Path:
    frames = b"".join(
        struct.pack("<h", int(6000 * math.sin(2 * math.pi * 300 * i / rate)))
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


class FakeWorker(threading.Thread):
    """Does the worker's part that matters here: fetch RecordingUrl + ".wav", mark it stored."""

    def __init__(self, rt: Runtime, auth: tuple[str, str]) -> None:
        super().__init__(daemon=True)
        self.rt = rt
        self.auth = auth
        self.fetched: bytes | None = None
        self.status: int | None = None

    def run(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with self.rt.sessions() as db:
                row = db.scalar(select(Recording))
            if row is not None:
                http = requests.Session()
                http.trust_env = False
                response = http.get(row.source_url + ".wav", auth=self.auth, timeout=5)
                self.status = response.status_code
                self.fetched = response.content
                with self.rt.sessions.begin() as db:
                    stored = db.get(Recording, row.id)
                    assert stored is not None
                    ok = response.status_code == 200
                    stored.status = RecordingStatus.STORED if ok else RecordingStatus.FAILED
                return
            time.sleep(0.1)


def test_a_simulated_call_reaches_a_ticket_with_its_recording(
    runner: FlaskCliRunner, rt: Runtime, live_url: str, tmp_path: Path
) -> None:
    audio = write_wav(tmp_path / "message.wav")
    worker = FakeWorker(rt, ("", rt.settings.twilio_auth_token))
    worker.start()
    result = runner.invoke(
        args=[
            "simulate-call",
            "--digits",
            "1",
            "--audio",
            str(audio),
            "--url",
            live_url,
            "--wait",
            "20",
        ]
    )
    worker.join(timeout=25)
    assert result.exit_code == 0, result.output
    assert worker.status == 200
    assert worker.fetched == audio.read_bytes()

    with rt.sessions() as db:
        ticket = db.scalar(select(Ticket))
        assert ticket is not None
        assert (ticket.kind, ticket.status) == (TicketKind.MESSAGE, TicketStatus.OPEN)
        (recording,) = ticket.recordings
        number = ticket.number
    out = result.output
    assert "hotline (vi-VN): Xin chào quý vị. Đây là Tổng đài hỗ trợ doanh nghiệp." in out
    assert "caller presses 1" in out
    assert "hotline (vi-VN): Quý vị đã chọn: Thuế." in out
    assert "caller speaks for 3 s, then presses #" in out
    assert f"Số phiếu của quý vị là: {', '.join(number or '')}." in out
    assert "The worker has the recording (stored)." in out
    assert f"Ticket {number}: message, open; recording: stored." in out
    assert recording.twilio_duration_s == 3


@pytest.fixture
def with_account(app_config: dict[str, Any]) -> dict[str, Any]:
    # A configured account: the media URL then wants its SID as the user name, like Twilio.
    app_config["TWILIO_ACCOUNT_SID"] = "AC" + "7" * 32
    app_config["HOTLINE_TWILIO_API_URL"] = "http://127.0.0.1:9"  # nothing real is ever reached
    return app_config


def test_the_recording_needs_the_accounts_credentials(
    with_account: dict[str, Any], runner: FlaskCliRunner, rt: Runtime, live_url: str, tmp_path: Path
) -> None:
    audio = write_wav(tmp_path / "message.wav", seconds=1.0)
    worker = FakeWorker(rt, ("AC" + "8" * 32, rt.settings.twilio_auth_token))  # wrong SID
    worker.start()
    result = runner.invoke(
        args=[
            "simulate-call",
            "--audio",
            str(audio),
            "--url",
            live_url,
            "--wait",
            "5",
            "--hangup-during-recording",
        ]
    )
    worker.join(timeout=25)
    assert result.exit_code == 0, result.output
    assert worker.status == 401
    assert "/2010-04-01/Accounts/AC7777" in _recording_url(rt)
    assert "The worker could not fetch the recording (this server answered HTTP 401)." in (
        result.output
    )


def _recording_url(rt: Runtime) -> str:
    with rt.sessions() as db:
        row = db.scalar(select(Recording))
        assert row is not None
        return row.source_url


def test_silence_and_no_worker(runner: FlaskCliRunner, rt: Runtime, live_url: str) -> None:
    result = runner.invoke(args=["simulate-call", "--silence", "--digits", "", "--url", live_url])
    assert result.exit_code == 0, result.output
    assert result.output.count("caller says nothing\n") == 3
    assert "Chúng tôi chưa nhận được lời nhắn của quý vị" in result.output
    assert ": missed_call, open; recording: none." in result.output


def test_refuses_without_audio_or_token(runner: FlaskCliRunner, app: Flask) -> None:
    result = runner.invoke(args=["simulate-call"])
    assert result.exit_code != 0
    assert "give --audio" in result.output


def test_a_wait_without_a_worker_gives_up(
    runner: FlaskCliRunner, live_url: str, tmp_path: Path
) -> None:
    audio = write_wav(tmp_path / "m.wav", seconds=1.0)
    result = runner.invoke(
        args=["simulate-call", "--audio", str(audio), "--url", live_url, "--wait", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "the worker has not fetched the recording" in result.output
