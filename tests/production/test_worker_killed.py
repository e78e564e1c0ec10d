"""A transcription worker killed mid-job (SIGKILL: no cleanup at all), then a restart.

Real processes: `hotline worker --queue transcription` with the real Whisper model is killed
while it holds the recording; the sweep hands the stale claim on, and a restarted worker
finishes it. The recording is transcribed exactly once and not downloaded again.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from hotline.runtime import runtime
from storage.models import RecordingStatus, utcnow
from transcription import jobs


def worker_env(config: dict[str, Any], **extra: str) -> dict[str, str]:
    """The environment of a worker process on the test's database and queue."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_"))}
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    for key, value in config.items():
        if key.isupper() and isinstance(value, str) and key not in ("INSTANCE_PATH",):
            env[key] = value
    env["HOTLINE_INSTANCE_PATH"] = config["INSTANCE_PATH"]
    env.update(extra)
    return env


def wait_for(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.whisper
def test_a_worker_killed_mid_transcription_is_finished_once_after_restart(
    app: Flask,
    app_config: dict[str, Any],
    phone: Any,
    media: Any,
    make_wav: Any,
    rows: Any,
    tmp_path: Path,
) -> None:
    sid = "RE" + "4" * 32
    phone.leave_message(media.script(sid, media.reply(make_wav(60.0))))
    log = (tmp_path / "worker.log").open("wb")
    first = subprocess.Popen(
        [sys.executable, "-m", "hotline", "worker", "--queue", "transcription"],
        env=worker_env(app_config, HOTLINE_TRANSCRIBE_ENGINE="faster-whisper"),
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(
            lambda: rows.recording(sid).status == RecordingStatus.TRANSCRIBING,
            timeout_s=120,
            what="the worker to claim the transcription",
        )
        # Killed at once: the worker is loading the model or decoding (about 2 s on this
        # machine for base), well inside the job.
        assert first.poll() is None, (tmp_path / "worker.log").read_text()
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        log.close()
    held = rows.recording(sid)
    assert held.status == RecordingStatus.TRANSCRIBING and held.claimed_by
    assert rows.transcripts(held.id) == []

    # The sweep of the light worker, once the claim is older than HOTLINE_STUCK_AFTER_MINUTES.
    rt = runtime(app)
    ctx = rt.services["transcription"]()
    later = dataclasses.replace(ctx, clock=lambda: utcnow() + timedelta(minutes=20))
    assert jobs.sweep(later) == [held.id]
    assert rows.recording(sid).status == RecordingStatus.STORED
    rt.services["jobs"].enqueue("process_recording", held.id)

    restarted = subprocess.run(
        [sys.executable, "-m", "hotline", "worker", "--queue", "transcription", "--once"],
        env=worker_env(app_config, HOTLINE_TRANSCRIBE_ENGINE="fake"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert restarted.returncode == 0, restarted.stderr
    assert "transcription: ran 1 job(s)" in restarted.stdout
    done = rows.recording(sid)
    assert done.status == RecordingStatus.TRANSCRIBED
    assert [t.engine for t in rows.transcripts(done.id)] == ["fake"]
    assert len(media.hits) == 1  # resumed from the stored audio, not downloaded again
