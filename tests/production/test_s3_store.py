"""The S3-compatible audio store, against a real S3 server on loopback (moto's server mode).

moto runs as its own process speaking the S3 protocol over HTTP on 127.0.0.1: boto3 signs and
sends real requests, multipart uploads included; nothing is patched in this process.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

pytest.importorskip("boto3")
pytest.importorskip("moto")

from hotline.wiring_production import build_audio_store
from storage.audio_store import AudioStoreError
from storage.db import transaction
from storage.models import RecordingStatus, utcnow
from storage.retention import purge_recordings
from storage.s3_store import S3AudioStore, S3Unavailable, make_s3_client

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "hotline-test",
    "AWS_SECRET_ACCESS_KEY": "hotline-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",  # never ask 169.254.169.254 for credentials
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class S3Server:
    """moto's S3 server in a process of its own on 127.0.0.1."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError("the S3 server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def bucket(s3_server: S3Server, aws_env: None) -> str:
    name = f"hotline-{uuid.uuid4().hex[:12]}"
    make_s3_client(s3_server.endpoint).create_bucket(Bucket=name)
    return name


def store_for(server: S3Server, bucket: str, cache: Path, prefix: str = "audio") -> S3AudioStore:
    return S3AudioStore(bucket, prefix=prefix, cache_dir=cache, endpoint_url=server.endpoint)


def chunks_of(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


# --- the store ------------------------------------------------------------------------------------


def test_round_trip_with_checksum_under_the_prefix(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    store = store_for(s3_server, bucket, tmp_path / "cache")
    data = os.urandom(9 * 1024 * 1024)  # past boto3's multipart threshold (8 MiB)
    stored = store.put("2026/12/RE" + "1" * 32 + ".wav", chunks_of(data))
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size_bytes == len(data)
    key = stored.key
    head = store.client.head_object(Bucket=bucket, Key=f"audio/{key}")
    assert head["Metadata"]["sha256"] == stored.sha256
    assert store.exists(key) and store.size(key) == len(data)

    # Another machine (an empty cache) reads it from the bucket, checked against the sha256.
    other = store_for(s3_server, bucket, tmp_path / "other-cache")
    path = other.path(key)
    assert path.is_relative_to(tmp_path / "other-cache") and path.read_bytes() == data
    with other.open(key) as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == stored.sha256

    store.delete(key)
    store.delete(key)  # deleting twice is not an error
    assert not store.exists(key)
    # The other machine's copy is stale now: the bucket is the truth.
    with pytest.raises(AudioStoreError):
        other.path(key)
    assert not (tmp_path / "other-cache" / key).exists()


def test_a_broken_download_leaves_no_object_and_no_temp_file(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    store = store_for(s3_server, bucket, tmp_path / "cache")

    def dropped() -> Iterator[bytes]:
        yield b"RIFF" + b"\0" * 1000
        raise ConnectionError("Twilio dropped the connection")

    with pytest.raises(ConnectionError):
        store.put("2026/12/RE" + "2" * 32 + ".wav", dropped())
    assert not store.exists("2026/12/RE" + "2" * 32 + ".wav")
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


def test_a_corrupted_object_is_refused(s3_server: S3Server, bucket: str, tmp_path: Path) -> None:
    store = store_for(s3_server, bucket, tmp_path / "cache")
    key = "2026/12/RE" + "3" * 32 + ".wav"
    stored = store.put(key, [b"genuine audio bytes"])
    # Bit rot, or a hand edit in the bucket: same metadata, other bytes.
    store.client.put_object(
        Bucket=bucket, Key=f"audio/{key}", Body=b"tampered!", Metadata={"sha256": stored.sha256}
    )
    reader = store_for(s3_server, bucket, tmp_path / "reader")
    with pytest.raises(AudioStoreError, match="sha256"):
        reader.path(key)
    assert [p for p in (tmp_path / "reader").rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs/x.wav", "a/../../b.wav", "a\\b.wav", ""])
def test_unsafe_keys_are_refused_before_any_request(key: str, tmp_path: Path) -> None:
    store = S3AudioStore("b", cache_dir=tmp_path, client=object())  # no request is possible
    with pytest.raises(AudioStoreError):
        store.put(key, [b"x"])
    with pytest.raises(AudioStoreError):
        store.path(key)


def test_an_unreachable_bucket_is_a_transient_os_error(tmp_path: Path, aws_env: None) -> None:
    store = S3AudioStore(
        "hotline", cache_dir=tmp_path / "cache", endpoint_url=f"http://127.0.0.1:{free_port()}"
    )
    with pytest.raises(S3Unavailable) as caught:
        store.put("2026/12/RE" + "4" * 32 + ".wav", [b"audio"])
    assert isinstance(caught.value, OSError)  # the downloader retries OSErrors later
    with pytest.raises(OSError):
        store.exists("2026/12/RE" + "4" * 32 + ".wav")
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


def test_the_cache_keeps_to_its_size(s3_server: S3Server, bucket: str, tmp_path: Path) -> None:
    writer = store_for(s3_server, bucket, tmp_path / "writer")
    keys = [f"2026/12/RE{i:032d}.wav" for i in range(5)]
    for key in keys:
        writer.put(key, [os.urandom(1000)])
    reader = store_for(s3_server, bucket, tmp_path / "reader")
    reader.max_cache_bytes = 2500
    for key in keys:
        assert reader.path(key).stat().st_size == 1000
    cached = [p for p in (tmp_path / "reader").rglob("*.wav")]
    assert len(cached) <= 2 and reader.path(keys[-1]).is_file()


# --- the whole system on S3 -----------------------------------------------------------------------


@pytest.fixture
def app_config(app_config: dict[str, Any], s3_server: S3Server, bucket: str) -> dict[str, Any]:
    app_config["HOTLINE_AUDIO_STORE_URL"] = f"s3://{bucket}/recordings"
    app_config["HOTLINE_S3_ENDPOINT_URL"] = s3_server.endpoint
    return app_config


def test_settings_choose_the_store(app: Flask, bucket: str) -> None:
    store = app.extensions["hotline"].audio_store
    assert isinstance(store, S3AudioStore)
    assert (store.bucket, store.prefix) == (bucket, "recordings")
    settings = app.extensions["hotline"].settings
    with pytest.raises(Exception, match="HOTLINE_AUDIO_STORE_URL"):
        build_audio_store(settings.replace(audio_store_url="ftp://x/y"))


def test_the_worker_stores_in_the_bucket_and_retention_purges_there(
    app: Flask, phone: Any, media: Any, wav: bytes, rows: Any, worker: Any
) -> None:
    rt = app.extensions["hotline"]
    sid = "RE" + "5" * 32
    phone.leave_message(media.script(sid, media.reply(wav)))
    worker()
    recording = rows.recording(sid)
    assert recording.status == RecordingStatus.TRANSCRIBED
    store: S3AudioStore = rt.audio_store
    head = store.client.head_object(Bucket=store.bucket, Key=f"recordings/{recording.audio_key}")
    assert head["ContentLength"] == len(wav)
    assert head["Metadata"]["sha256"] == recording.audio_sha256 == hashlib.sha256(wav).hexdigest()

    with transaction(rt.sessions) as db:
        later = utcnow().replace(year=utcnow().year + 2)
        assert purge_recordings(db, store=store, now=later, days=365).purged == [recording.id]
    assert not store.exists(recording.audio_key)


def test_a_bucket_outage_while_storing_leaves_nothing_and_the_recording_waits(
    app_config: dict[str, Any], bucket: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # A server of this test's own, which it stops and starts (moto keeps buckets in memory).
    server = S3Server(free_port())
    server.start()
    request.addfinalizer(server.stop)
    make_s3_client(server.endpoint).create_bucket(Bucket=bucket)
    app_config["HOTLINE_S3_ENDPOINT_URL"] = server.endpoint
    app_config["HOTLINE_TRANSCRIBE_RETRIES"] = "3"
    app, phone, media, wav, rows, worker = (
        request.getfixturevalue(n) for n in ("app", "phone", "media", "wav", "rows", "worker")
    )
    sid = "RE" + "6" * 32
    phone.leave_message(media.script(sid, media.reply(wav)))
    server.stop()
    worker()
    waiting = rows.recording(sid)
    assert waiting.status == RecordingStatus.PENDING  # transient: back in line, not failed
    assert waiting.error is not None and waiting.error.startswith("audio_store_failed")
    assert waiting.audio_key is None
    cache = Path(app_config["HOTLINE_AUDIO_DIR"])
    assert [p for p in cache.rglob("*") if p.is_file()] == []  # no partial file either

    server.start()
    make_s3_client(server.endpoint).create_bucket(Bucket=bucket)
    rt = app.extensions["hotline"]
    rt.services["jobs"].enqueue("process_recording", waiting.id)  # the sweep's wake-up
    worker()
    assert rows.recording(sid).status == RecordingStatus.TRANSCRIBED
