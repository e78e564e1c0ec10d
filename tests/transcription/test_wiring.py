"""The transcription jobs as the app wires them: settings, the huey queue, the CLI commands."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from hotline.cli_transcribe import recordings_group, transcribe_command
from hotline.runtime import Runtime
from hotline.tasks import drain
from hotline.wiring_transcription import engine_options, job_options
from storage.db import transaction
from storage.models import Recording, RecordingStatus
from transcription import jobs
from transcription.fakes import FakeTranscriber
from transcription.options import EngineOptions

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_SID = "AC" + "2" * 32
REC_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{1:032d}"


@pytest.fixture
def app_config(app_config: dict[str, Any], model_cache: Path) -> dict[str, Any]:
    """The test app with the fake engine, recordings served from loopback."""
    app_config.update(
        {
            "HOTLINE_TRANSCRIBE_ENGINE": "fake",
            "HOTLINE_RECORDING_HOSTS": "127.0.0.1",
            "HOTLINE_DOWNLOAD_RETRIES": "0",
            "HOTLINE_MODEL_CACHE_DIR": str(model_cache),
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        }
    )
    return app_config


def test_settings_become_options(rt: Runtime, model_cache: Path) -> None:
    engine = engine_options(rt.settings)
    assert (engine.engine, engine.model, engine.cache_dir) == ("fake", "base", model_cache)
    assert engine.decode.beam_size == rt.settings.whisper_beam_size
    jobs = job_options(rt.settings)
    assert jobs.download.allowed_hosts == ("127.0.0.1",)
    assert jobs.download.account_sid == ACCOUNT_SID
    assert jobs.max_attempts == rt.settings.transcribe_retries


def test_enqueued_recording_is_processed_by_the_transcription_queue(
    rt: Runtime,
    twilio: Any,
    make_recording: Callable[..., int],
    wav_speech: bytes,
    reload: Callable[[sessionmaker[Session], int], Recording],
) -> None:
    url = twilio.script(REC_PATH + ".wav", twilio.Reply(200, wav_speech))
    rec_id = make_recording(url.removesuffix(".wav"))
    jobs = rt.services["jobs"]

    assert jobs.enqueue("process_recording", rec_id)
    assert drain(rt.queues["transcription"]) == 1

    rec = reload(rt.sessions, rec_id)
    assert rec.status is RecordingStatus.TRANSCRIBED
    assert rec.transcript is not None and rec.transcript.engine == "fake"
    if "route_ticket" in jobs.names:
        # Routing is woken on the light queue once the transcript is in.
        assert rt.queues["default"].pending_count() >= 1


def test_a_transient_failure_is_retried_later_by_the_queue(
    rt: Runtime,
    twilio: Any,
    make_recording: Callable[..., int],
    reload: Callable[[sessionmaker[Session], int], Recording],
) -> None:
    url = twilio.script(REC_PATH + ".wav", twilio.Reply(503))
    rec_id = make_recording(url.removesuffix(".wav"))

    rt.services["jobs"].enqueue("process_recording", rec_id)
    drain(rt.queues["transcription"])

    rec = reload(rt.sessions, rec_id)
    assert rec.status is RecordingStatus.PENDING and rec.error is not None
    assert rt.queues["transcription"].scheduled_count() == 1  # huey runs it again later


def test_recordings_sweep_and_retry_commands(
    app: Flask,
    rt: Runtime,
    make_recording: Callable[..., int],
) -> None:
    rec_id = make_recording(
        "http://127.0.0.1:9/r",
        status=RecordingStatus.FAILED,
        error="download_refused: HTTP 410",
        attempts=3,
    )
    runner = app.test_cli_runner()

    retried = runner.invoke(recordings_group, ["retry", str(rec_id)])
    assert retried.exit_code == 0, retried.output
    with transaction(rt.sessions) as db:
        rec = db.get_one(Recording, rec_id)
        assert (rec.status, rec.attempts, rec.error) == (RecordingStatus.PENDING, 0, None)
    assert rt.queues["transcription"].pending_count() == 1

    again = runner.invoke(recordings_group, ["retry", str(rec_id)])
    assert again.exit_code != 0 and "not a failed recording" in again.output
    swept = runner.invoke(recordings_group, ["sweep"])
    assert swept.exit_code == 0 and "Woke 0 recording(s)." in swept.output


def test_transcribe_command_prints_json_and_reports_bad_files(
    app: Flask, clips: list[Any], tmp_path: Path
) -> None:
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    runner = app.test_cli_runner()

    result = runner.invoke(
        transcribe_command, ["--json", str(clips[0].phone), str(bad), str(clips[1].clean)]
    )

    assert result.exit_code == 1  # one file failed; the others were still transcribed
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(clips[0].phone), str(bad), str(clips[1].clean)]
    good = lines[0]
    assert set(good) >= {
        "file",
        "text",
        "language",
        "duration_s",
        "processing_s",
        "engine",
        "model",
        "segments",
    }
    assert good["engine"] == "fake" and good["language"] == "vi"
    assert good["duration_s"] == pytest.approx(clips[0].duration_s, abs=0.01)
    assert set(good["segments"][0]) >= {"start", "end", "text", "avg_logprob", "no_speech_prob"}
    assert lines[1] == {
        "file": str(bad),
        "error": "audio_unreadable",
        "message": lines[1]["message"],
    }
    assert f"{bad}: error: not a readable audio file" in result.stderr


@pytest.mark.whisper
def test_transcribe_command_with_the_real_model(app: Flask, clips: list[Any]) -> None:
    clip = max(clips, key=lambda c: c.duration_s)
    runner = app.test_cli_runner()

    result = runner.invoke(
        transcribe_command, ["--engine", "faster-whisper", "--beam-size", "1", str(clip.phone)]
    )

    assert result.exit_code == 0, result.output
    header, *segments = result.stdout.splitlines()
    assert header.startswith(str(clip.phone)) and "confidence" in header
    assert segments and all(line[2:].startswith("[00:") for line in segments)


def test_no_model_library_is_imported_by_the_app_or_the_jobs() -> None:
    # A web process builds the app (and so registers the jobs) but must never load a model.
    code = (
        "import sys; import hotline; from hotline import wiring_transcription, cli_transcribe; "
        "from transcription import jobs, engines; "
        "print(sorted(m for m in ('faster_whisper', 'ctranslate2', 'torch', 'whisper') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def test_the_worker_builds_one_transcriber_and_loads_it_on_first_use() -> None:
    options = EngineOptions(engine="fake", model="same")
    first = jobs.shared_transcriber(options)
    assert jobs.shared_transcriber(EngineOptions(engine="fake", model="same")) is first
    assert isinstance(first, FakeTranscriber) and not first.loaded
