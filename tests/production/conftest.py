"""Fixtures for the production tests: a signing Twilio, a media server, real audio, row counts.

These tests run the whole system the way production does (webhooks, then the queue and the
worker's jobs, then the rows), and each also runs in the scale-out mode (`make test-scaleout`:
PostgreSQL and Redis).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from hotline.runtime import Runtime, runtime
from hotline.tasks import TRANSCRIPTION_QUEUE, drain
from storage.models import (
    AuditEvent,
    Call,
    Notification,
    Recording,
    Ticket,
    TicketNote,
    Transcript,
)
from transcription.audio import SAMPLE_RATE, encode_audio

ACCOUNT_SID = "AC" + "7" * 32
BASE = "http://localhost"
TABLES: tuple[type[Any], ...] = (
    Call,
    Ticket,
    Recording,
    Transcript,
    AuditEvent,
    TicketNote,
    Notification,
)


@pytest.fixture
def app_config(app_config: dict[str, Any], media: MediaServer) -> dict[str, Any]:
    """The production-like app: fake engine, the local media server allowed, fast retries."""
    app_config.update(
        {
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "HOTLINE_TRANSCRIBE_ENGINE": "fake",
            "HOTLINE_RECORDING_HOSTS": "127.0.0.1",
            "HOTLINE_DOWNLOAD_RETRIES": "1",
            "HOTLINE_DOWNLOAD_TIMEOUT_S": "5",
            "HOTLINE_SMS_CONFIRMATION": "false",
        }
    )
    return app_config


# --- audio ----------------------------------------------------------------------------------------


def phone_wav(seconds: float, path: Path, *, seed: int = 1) -> bytes:
    """Return an 8 kHz mu-law WAV (Twilio's format) of a voice-like tone mix, `seconds` long."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE), dtype=np.float32) / SAMPLE_RATE
    voice = 0.2 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    samples = (voice + 0.02 * rng.standard_normal(t.size)).astype(np.float32)
    encode_audio(samples, path, codec="pcm_mulaw", rate=8000)
    return path.read_bytes()


@pytest.fixture
def make_wav(tmp_path: Path) -> Any:
    """Return phone audio of the given length: `make_wav(12.0)`."""
    return lambda seconds, seed=1: phone_wav(seconds, tmp_path / f"{seconds}-{seed}.wav", seed=seed)


@pytest.fixture
def wav(make_wav: Any) -> bytes:
    """Three seconds of phone audio."""
    return bytes(make_wav(3.0))


# --- Twilio's media URLs --------------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "audio/x-wav"
    delay_s: float = 0.0  # a slow or hung server


@dataclass
class MediaServer:
    """Twilio's media URLs on 127.0.0.1: scripted replies per recording SID, every hit kept."""

    scripts: dict[str, list[Reply]] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, sid: str) -> str:
        """Return the RecordingUrl Twilio sends (no extension; the worker adds .wav)."""
        return f"{self.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}"

    def script(self, sid: str, *replies: Reply) -> str:
        """Set what the recording's URL answers, in order (the last one repeats)."""
        self.scripts[sid] = list(replies)
        return self.url(sid)

    @staticmethod
    def reply(
        body: bytes = b"",
        *,
        status: int = 200,
        content_type: str = "audio/x-wav",
        delay_s: float = 0.0,
    ) -> Reply:
        return Reply(status=status, body=body, content_type=content_type, delay_s=delay_s)

    def reply_for(self, path: str) -> Reply:
        sid = path.rsplit("/", 1)[-1].split(".", 1)[0]
        with self.lock:
            self.hits.append(path)
            replies = self.scripts.get(sid)
            if not replies:
                return Reply(404, b"not found", "text/plain")
            return replies.pop(0) if len(replies) > 1 else replies[0]


def _media_handler(media: MediaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            reply = media.reply_for(self.path)
            if reply.delay_s:
                time.sleep(reply.delay_s)
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


@pytest.fixture
def media() -> Iterator[MediaServer]:
    server = MediaServer()
    server.server = ThreadingHTTPServer(("127.0.0.1", 0), _media_handler(server))
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    thread.join(timeout=5)


# --- Twilio's webhooks ----------------------------------------------------------------------------


def new_sid(kind: str) -> str:
    return kind + uuid.uuid4().hex


@dataclass
class Phone:
    """Plays Twilio: signed webhooks for whole calls."""

    client: FlaskClient
    token: str

    def post(
        self, path: str, params: dict[str, str], *, signed: bool = True, **kwargs: Any
    ) -> TestResponse:
        url = path if path.startswith("http") else BASE + path
        headers = {}
        if signed:
            headers["X-Twilio-Signature"] = RequestValidator(self.token).compute_signature(
                url, params
            )
        return self.client.post(url, data=params, headers=headers, **kwargs)

    def params(self, call_sid: str, **extra: str) -> dict[str, str]:
        return {
            "AccountSid": ACCOUNT_SID,
            "CallSid": call_sid,
            "From": "+84912345678",
            "To": "+842223999999",
            "CallStatus": "in-progress",
            "Direction": "inbound",
            **extra,
        }

    def leave_message(self, recording_url: str, *, duration: str = "12") -> tuple[str, str]:
        """Call, press 1, leave a message at `recording_url`, hang up; return the two SIDs."""
        call_sid = new_sid("CA")
        recording_sid = recording_url.rsplit("/", 1)[-1]
        recording = {
            "RecordingSid": recording_sid,
            "RecordingUrl": recording_url,
            "RecordingDuration": duration,
        }
        steps = [
            ("/ivr/incoming", {}),
            ("/ivr/menu?attempt=0", {"Digits": "1"}),
            ("/ivr/recording-status", {**recording, "RecordingStatus": "completed"}),
            ("/ivr/record", {**recording, "Digits": "#"}),
            ("/ivr/status", {"CallStatus": "completed", "CallDuration": "40"}),
        ]
        for path, extra in steps:
            response = self.post(path, self.params(call_sid, **extra))
            assert response.status_code == 200, (path, response.get_data(as_text=True))
        return call_sid, recording_sid


@pytest.fixture
def phone(client: FlaskClient, rt: Runtime) -> Phone:
    return Phone(client, rt.settings.twilio_auth_token)


@pytest.fixture
def phone_for() -> Callable[[Flask], Phone]:
    """Return a Twilio for another app than the test's `app`."""
    return lambda app: Phone(app.test_client(), runtime(app).settings.twilio_auth_token)


# --- reading the rows -----------------------------------------------------------------------------


@dataclass
class Db:
    """Short reads of what the system wrote (no transaction left open)."""

    rt: Runtime

    def counts(self) -> dict[str, int]:
        with self.rt.sessions() as session:
            return {
                model.__tablename__: int(session.scalar(select(func.count()).select_from(model)))
                for model in TABLES
            }

    def recording(self, sid: str) -> Recording:
        with self.rt.sessions() as session:
            row = session.scalar(select(Recording).where(Recording.recording_sid == sid))
            assert row is not None, f"no recording {sid}"
            return row

    def ticket_of_call(self, call_sid: str) -> Ticket:
        with self.rt.sessions() as session:
            row = session.scalar(
                select(Ticket)
                .join(Call, Ticket.call_id == Call.id)
                .where(Call.call_sid == call_sid)
            )
            assert row is not None, f"no ticket for {call_sid}"
            return row

    def transcripts(self, recording_id: int) -> list[Transcript]:
        with self.rt.sessions() as session:
            return list(
                session.scalars(select(Transcript).where(Transcript.recording_id == recording_id))
            )

    def events(self, ticket_id: int) -> list[AuditEvent]:
        with self.rt.sessions() as session:
            return list(
                session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.ticket_id == ticket_id)
                    .order_by(AuditEvent.id)
                )
            )


@pytest.fixture
def rows(rt: Runtime) -> Db:
    return Db(rt)


@pytest.fixture
def rows_for() -> Callable[[Flask], Db]:
    return lambda app: Db(runtime(app))


def run_worker(app: Flask) -> int:
    """Run what the transcription queue holds, as the worker would; return how many jobs ran."""
    return drain(app.extensions["hotline"].queues[TRANSCRIPTION_QUEUE])


@pytest.fixture
def worker(app: Flask) -> Any:
    return lambda: run_worker(app)
