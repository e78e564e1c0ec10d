"""Fixtures of the transcription tests: real clips, the real base model, a fake Twilio on loopback.

The model is loaded once per test session (about 2 s) and shared; job tests that are about
queues, HTTP and files use the fake transcriber, and a few run the real model end to end.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from storage.audio_store import LocalAudioStore
from storage.db import transaction
from storage.models import Call, CallState, Recording, Ticket, TicketKind, TicketStatus
from transcription.audio import SAMPLE_RATE, decode_audio, encode_audio
from transcription.engines.faster import FasterWhisperTranscriber
from transcription.fakes import FakeTranscriber
from transcription.options import EngineOptions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "fake-twilio-token-0123456789"


@dataclass(frozen=True)
class Clip:
    id: str
    clean: Path
    phone: Path
    text: str
    duration_s: float


def load_clips() -> list[Clip]:
    rows = [json.loads(line) for line in (FIXTURES / "manifest.jsonl").read_text().splitlines()]
    return [
        Clip(r["id"], FIXTURES / r["clean"], FIXTURES / r["phone"], r["text"], r["duration_s"])
        for r in rows
    ]


@pytest.fixture(scope="session")
def clips() -> list[Clip]:
    """The real Vietnamese clips copied from the shared data (FPT Open Speech Data, CC BY 4.0)."""
    return load_clips()


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model cache of this session; the bundled model is assembled into it once."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def base_model(model_cache: Path) -> FasterWhisperTranscriber:
    """The real Whisper base (bundled), with the project's default options, loaded once."""
    engine = FasterWhisperTranscriber(EngineOptions(cache_dir=model_cache, cpu_threads=2))
    engine.load()
    return engine


@pytest.fixture(scope="session")
def wav_speech(clips: list[Clip]) -> bytes:
    """A short real phone recording (8 kHz mu-law WAV, as Twilio serves it)."""
    return min(clips, key=lambda c: c.duration_s).phone.read_bytes()


def wav_of(samples: np.ndarray[Any, Any], tmp_path: Path, name: str = "x.wav") -> bytes:
    """Return the bytes of an 8 kHz mu-law WAV of `samples` (16 kHz floats)."""
    path = tmp_path / name
    encode_audio(samples.astype(np.float32), path, codec="pcm_mulaw", rate=8000)
    return path.read_bytes()


@pytest.fixture
def wav_silence(tmp_path: Path) -> bytes:
    return wav_of(np.zeros(3 * SAMPLE_RATE, dtype=np.float32), tmp_path, "silence.wav")


# --- a fake Twilio on 127.0.0.1 -------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait before answering (a slow or hung server)
    stall_after: int | None = None  # send this many body bytes, then hang
    content_type: str = "audio/x-wav"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class FakeTwilio:
    """Scripted replies per path, played in order (the last repeats); every request is kept."""

    Reply = Reply

    def __init__(self) -> None:
        self.scripts: dict[str, list[Reply]] = {}
        self.requests: list[Seen] = []
        self.lock = threading.Lock()
        self.got_request = threading.Event()
        self.release = threading.Event()  # set to let stalled replies end
        self.server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, path: str, *replies: Reply) -> str:
        """Set the replies for `path` and return its full URL."""
        self.scripts[path] = list(replies)
        return self.base_url + path

    def seen(self, method: str = "GET", path: str | None = None) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if r.method == method and path in (None, r.path)]

    def next_reply(self, path: str) -> Reply:
        with self.lock:
            replies = self.scripts.get(path)
            if not replies:
                return Reply(404, b'{"status": 404}', content_type="application/json")
            return replies.pop(0) if len(replies) > 1 else replies[0]


def _handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return None

        def answer(self) -> None:
            with fake.lock:
                fake.requests.append(Seen(self.command, self.path, dict(self.headers)))
            fake.got_request.set()
            reply = fake.next_reply(self.path)
            if reply.delay_s:
                fake.release.wait(reply.delay_s)
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if reply.stall_after is not None:
                    self.wfile.write(reply.body[: reply.stall_after])
                    self.wfile.flush()
                    fake.release.wait(30)
                    return
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                return

        do_GET = answer
        do_DELETE = answer

    return Handler


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or are killed mid-reply are what the tests are about.
        return None


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    """A fake Twilio serving recordings and the REST API on 127.0.0.1."""
    fake = FakeTwilio()
    server = QuietServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# --- database rows -------------------------------------------------------------------------------


@pytest.fixture
def sessions(rt: Any) -> sessionmaker[Session]:
    """The test app's session factory (a migrated SQLite database of this test)."""
    factory: sessionmaker[Session] = rt.sessions
    return factory


@pytest.fixture
def store(tmp_path: Path) -> LocalAudioStore:
    return LocalAudioStore(tmp_path / "store")


@pytest.fixture
def make_recording(sessions: sessionmaker[Session]) -> Callable[..., int]:
    """Insert a call, its ticket and a pending recording; return the recording's id."""
    counter = iter(range(1, 10_000))

    def make(source_url: str, **fields: Any) -> int:
        n = next(counter)
        with transaction(sessions) as db:
            call = Call(call_sid=f"CAtr{n:030d}", from_number="+84912345678", state=CallState.ENDED)
            ticket = Ticket(
                call=call, kind=TicketKind.MESSAGE, status=TicketStatus.OPEN, caller="+84912345678"
            )
            fields.setdefault("recording_sid", f"RE{n:032d}")
            rec = Recording(call=call, ticket=ticket, source_url=source_url, **fields)
            db.add_all([call, ticket, rec])
            db.flush()
            return rec.id

    return make


@pytest.fixture
def fake_transcriber() -> FakeTranscriber:
    return FakeTranscriber()


def read_recording(sessions: sessionmaker[Session], recording_id: int) -> Recording:
    with transaction(sessions) as db:
        rec = db.get_one(Recording, recording_id)
        _ = rec.transcript  # load it before the session closes
        return rec


@pytest.fixture
def reload() -> Callable[[sessionmaker[Session], int], Recording]:
    return read_recording


@pytest.fixture(scope="session")
def decoded(clips: list[Clip]) -> Callable[[Path], Any]:
    cache: dict[Path, Any] = {}

    def get(path: Path) -> Any:
        if path not in cache:
            cache[path] = decode_audio(path)
        return cache[path]

    return get
