"""Faults of the infrastructure: the queue (Redis) down, the database locked or unreachable.

The contract (ARCHITECTURE.md §4): the database row is the truth and the queue is a wake-up
call. A webhook whose database fails answers something Twilio can act on (a caller still hears
an apology and can leave a message; a callback gets a 5xx that Twilio logs) and writes nothing
half; a recording whose wake-up is lost waits for the sweep.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url

import storage.db
from hotline import create_app
from hotline.runtime import Runtime, runtime
from storage.models import RecordingStatus, utcnow
from transcription import jobs


def sweep_later(app: Flask, *, minutes: float = 5) -> list[int]:
    """Run the recordings sweep as the worker would, `minutes` from now; enqueue what it wakes."""
    rt = runtime(app)
    ctx = rt.services["transcription"]()
    later = dataclasses.replace(ctx, clock=lambda: utcnow() + timedelta(minutes=minutes))
    woken = jobs.sweep(later)
    for recording_id in woken:
        assert rt.services["jobs"].enqueue("process_recording", recording_id)
    return woken


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- Redis down -----------------------------------------------------------------------------------


@dataclasses.dataclass
class RedisServer:
    """A real redis-server of this test on 127.0.0.1, which the test stops and starts."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.process = subprocess.Popen(
            [binary, *("--bind", "127.0.0.1", "--port", str(self.port)), "--save", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(free_port())
    yield server
    server.stop()


def test_redis_down_when_a_recording_arrives_then_the_sweep_enqueues_it(
    app_config: dict[str, Any], redis_server: RedisServer, request: pytest.FixtureRequest
) -> None:
    app_config["REDIS_URL"] = redis_server.url  # down: nothing listens there yet
    app, phone, media, wav, rows, worker = (
        request.getfixturevalue(n) for n in ("app", "phone", "media", "wav", "rows", "worker")
    )
    sid = "RE" + "1" * 32
    call_sid, _ = phone.leave_message(media.script(sid, media.reply(wav)))
    # The webhooks answered 200 (leave_message checks); the row is committed and waits.
    recording = rows.recording(sid)
    assert recording.status == RecordingStatus.PENDING
    assert rows.ticket_of_call(call_sid) is not None

    redis_server.start()
    assert worker() == 0  # the wake-up was lost with the outage
    assert sweep_later(app) == [recording.id]
    assert worker() == 1
    assert rows.recording(sid).status == RecordingStatus.TRANSCRIBED
    assert len(rows.transcripts(recording.id)) == 1


# --- the database locked or unreachable -----------------------------------------------------------


class SqliteWriteLock:
    """Another process's write transaction on the SQLite file (what a long job would hold)."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def __enter__(self) -> SqliteWriteLock:
        self.conn.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


class PostgresTableLock:
    """Another session holding an exclusive lock on the calls and recordings tables."""

    def __init__(self, url: str) -> None:
        self.engine = storage.db.make_engine(url)

    def __enter__(self) -> PostgresTableLock:
        self.conn = self.engine.connect()
        self.conn.execute(text("LOCK TABLE calls, recordings IN ACCESS EXCLUSIVE MODE"))
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.rollback()
        self.conn.close()
        self.engine.dispose()


@pytest.fixture
def locked_app(app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app with a short lock wait, so a held lock turns into an error within the test."""
    monkeypatch.setattr(storage.db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    monkeypatch.setattr(storage.db, "POSTGRES_LOCK_TIMEOUT_MS", 300, raising=False)
    application = create_app(app_config)
    yield application
    runtime(application).engine.dispose()


def database_lock(rt: Runtime) -> Any:
    url = make_url(rt.settings.database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database
        return SqliteWriteLock(url.database)
    return PostgresTableLock(rt.settings.database_url)


def in_thread(fn: Any, timeout_s: float) -> Any:
    """Run `fn` in a thread; return its result, or fail if it is still waiting after timeout_s."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout_s)
    return thread, box


def test_a_locked_database_fails_webhooks_cleanly_and_jobs_wait_for_the_sweep(
    locked_app: Flask, media: Any, wav: bytes, phone_for: Any, rows_for: Any
) -> None:
    rt = runtime(locked_app)
    phone, rows = phone_for(locked_app), rows_for(locked_app)
    sid = "RE" + "2" * 32
    url = media.script(sid, media.reply(wav))
    recording = {"RecordingSid": sid, "RecordingUrl": url, "RecordingDuration": "9"}
    before = rows.counts()

    with database_lock(rt):
        call_sid = "CA" + "2" * 32
        thread, box = in_thread(
            lambda: phone.post("/ivr/incoming", phone.params(call_sid)), timeout_s=20
        )
        assert not thread.is_alive(), "the webhook waited for the lock instead of failing"
        incoming = box["result"]
        # The caller hears an apology and is still asked for a message (not Twilio's error).
        assert incoming.status_code == 200
        assert "Record" in [verb.tag for verb in ET.fromstring(incoming.get_data())]
        thread, box = in_thread(
            lambda: phone.post(
                "/ivr/recording-status",
                phone.params(call_sid, RecordingStatus="completed", **recording),
            ),
            timeout_s=20,
        )
        assert not thread.is_alive()
        callback = box["result"]
        # A callback nobody hears: a 5xx, which Twilio logs (and retries where configured).
        assert callback.status_code == 500
        assert b"Traceback" not in callback.get_data()
    assert rows.counts() == before  # nothing half-written

    # The lock is gone; Twilio's retry of the callback keeps the message.
    retry = phone.post(
        "/ivr/recording-status", phone.params(call_sid, RecordingStatus="completed", **recording)
    )
    assert retry.status_code == 200
    kept = rows.recording(sid)
    assert kept.status == RecordingStatus.PENDING

    # The worker meets a locked database: the job fails before claiming, the row waits.
    with database_lock(rt):
        thread, box = in_thread(lambda: drain_quietly(locked_app), timeout_s=30)
        assert not thread.is_alive()
    assert rows.recording(sid).status == RecordingStatus.PENDING
    assert rows.recording(sid).attempts == 0
    assert sweep_later(locked_app) == [kept.id]
    assert drain_quietly(locked_app) == 1
    assert rows.recording(sid).status == RecordingStatus.TRANSCRIBED


def drain_quietly(app: Flask) -> int:
    from hotline.tasks import TRANSCRIPTION_QUEUE, drain

    return drain(runtime(app).queues[TRANSCRIPTION_QUEUE])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_unreachable_database_answers_twilio_without_a_stack_trace(
    backend: str, app_config: dict[str, Any], tmp_path: Path, phone_for: Any
) -> None:
    if backend == "postgresql":
        pytest.importorskip("psycopg")
        app_config["DATABASE_URL"] = f"postgresql://hotline:x@127.0.0.1:{free_port()}/hotline"
    else:
        app_config["DATABASE_URL"] = f"sqlite:///{tmp_path / 'no-such-folder' / 'hotline.db'}"
    app = create_app(app_config)
    phone = phone_for(app)
    call_sid = "CA" + "3" * 32
    incoming = phone.post("/ivr/incoming", phone.params(call_sid))
    assert incoming.status_code == 200
    assert "Record" in [verb.tag for verb in ET.fromstring(incoming.get_data())]
    status = phone.post("/ivr/status", phone.params(call_sid, CallStatus="completed"))
    assert status.status_code == 500
    for response in (incoming, status):
        body = response.get_data(as_text=True)
        assert "Traceback" not in body and "OperationalError" not in body
    runtime(app).engine.dispose()
