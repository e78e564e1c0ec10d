"""The worker's job against a real HTTP server on 127.0.0.1 and a real SQLite database.

Each test scripts the fake Twilio (404 until ready, 401, a hang, corrupt bytes ...) and checks
what an officer would see afterwards: the Recording's status and error, the Transcript, and the
files in the audio store.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.audio_store import LocalAudioStore, StoredAudio
from storage.db import transaction
from storage.models import Confidence, Recording, RecordingStatus, Transcript, utcnow
from transcription import jobs
from transcription.audio import SAMPLE_RATE, decode_audio, encode_audio
from transcription.download import Downloader
from transcription.fakes import FakeTranscriber
from transcription.options import DownloadOptions, JobOptions
from transcription.protocol import Transcriber

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "fake-twilio-token-0123456789"
REC_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{1:032d}"

Reload = Callable[[sessionmaker[Session], int], Recording]


def options(**download: Any) -> JobOptions:
    settings: dict[str, Any] = {
        "allowed_hosts": ("127.0.0.1",),
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "timeout_s": 2.0,
        "retries": 3,
        "backoff_s": 0.01,  # tests do not wait for real backoff
        "max_backoff_s": 0.05,
    }
    settings.update(download)
    return JobOptions(max_audio_seconds=60, max_attempts=3, download=DownloadOptions(**settings))


def context(
    sessions: sessionmaker[Session],
    store: LocalAudioStore,
    transcriber: Transcriber,
    opts: JobOptions | None = None,
    finished: list[int] | None = None,
    **kw: Any,
) -> jobs.JobContext:
    opts = opts or options()
    return jobs.JobContext(
        sessions=sessions,
        store=store,
        transcriber=lambda: transcriber,
        options=opts,
        downloader=Downloader(opts.download),
        on_finished=(finished.append if finished is not None else None),
        **kw,
    )


def stored_files(store: LocalAudioStore) -> list[str]:
    if not store.root.exists():
        return []
    return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())


def count_transcripts(sessions: sessionmaker[Session], recording_id: int) -> int:
    with transaction(sessions) as db:
        return (
            db.scalar(
                select(func.count())
                .select_from(Transcript)
                .where(Transcript.recording_id == recording_id)
            )
            or 0
        )


def test_404_until_ready_then_stored_and_transcribed(
    twilio: Any,
    sessions: sessionmaker[Session],
    store: LocalAudioStore,
    make_recording: Callable[..., int],
    wav_speech: bytes,
    fake_transcriber: FakeTranscriber,
    reload: Reload,
) -> None:
    Reply = twilio.Reply
    url = twilio.script(REC_PATH + ".wav", Reply(404), Reply(404), Reply(200, wav_speech))
    rec_id = make_recording(url.removesuffix(".wav"))
    finished: list[int] = []

    outcome = jobs.process_recording(
        context(sessions, store, fake_transcriber, finished=finished), rec_id
    )

    assert outcome is jobs.Outcome.TRANSCRIBED
    gets = twilio.seen("GET", REC_PATH + ".wav")
    assert len(gets) == 3  # two "not ready" answers, then the file
    expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert all(g.headers["Authorization"] == expected for g in gets)
    rec = reload(sessions, rec_id)
    assert rec.status is RecordingStatus.TRANSCRIBED and rec.error is None
    assert rec.attempts == 2  # one claim to download, one to transcribe
    assert rec.claimed_by is None
    assert rec.audio_key is not None and store.path(rec.audio_key).read_bytes() == wav_speech
    assert rec.audio_sha256 == hashlib.sha256(wav_speech).hexdigest()
    assert rec.audio_bytes == len(wav_speech)
    assert rec.audio_duration_s == pytest.approx(decode_audio(wav_speech).duration_s, abs=0.01)
    assert rec.transcript is not None and rec.transcript.text == fake_transcriber.text
    assert rec.transcript.segments[0]["end"] == pytest.approx(rec.audio_duration_s, abs=0.01)
    assert finished == [rec.ticket_id]  # routing is woken once, after the transcript
    assert stored_files(store) == [rec.audio_key]  # no temp files left


def test_wrong_credentials_fail_at_once_without_retrying(
    twilio: Any,
    sessions: sessionmaker[Session],
    store: LocalAudioStore,
    make_recording: Callable[..., int],
    fake_transcriber: FakeTranscriber,
    reload: Reload,
) -> None:
    url = twilio.script(REC_PATH + ".wav", twilio.Reply(401, b'{"code": 20003}'))
    rec_id = make_recording(url.removesuffix(".wav"))
    finished: list[int] = []

    outcome = jobs.process_recording(
        context(sessions, store, fake_transcriber, finished=finished), rec_id
    )

    assert outcome is jobs.Outcome.FAILED
    assert len(twilio.seen("GET")) == 1
    rec = reload(sessions, rec_id)
    assert rec.status is RecordingStatus.FAILED
    assert rec.error is not None and rec.error.startswith("download_unauthorized: HTTP 401")
    assert "TWILIO_AUTH_TOKEN" in rec.error
    assert rec.transcript is None and stored_files(store) == []
    # The ticket goes on without a transcript: routing is still woken.
    assert finished == [rec.ticket_id]


def test_a_hung_server_times_out_and_the_recording_waits_for_a_retry(
    twilio: Any,
    sessions: sessionmaker[Session],
    store: LocalAudioStore,
    make_recording: Callable[..., int],
    wav_speech: bytes,
    fake_transcriber: FakeTranscriber,
    reload: Reload,
) -> None:
    # Headers arrive, then the body stalls: the read timeout must end the attempt.
    url = twilio.script(REC_PATH + ".wav", twilio.Reply(200, wav_speech, stall_after=100))
    rec_id = make_recording(url.removesuffix(".wav"))
    ctx = context(sessions, store, fake_transcriber, opts=options(timeout_s=0.3, retries=1))

    started = time.monotonic()
    outcome = jobs.process_recording(ctx, rec_id)

    assert time.monotonic() - started < 5
    assert outcome is jobs.Outcome.RETRY
    assert len(twilio.seen("GET")) == 2  # the first try and one retry
    rec = reload(sessions, rec_id)
    assert rec.status is RecordingStatus.PENDING and rec.claimed_by is None
    assert rec.error is not None and rec.error.startswith("download_timeout:")
    assert stored_files(store) == []  # the partial body was not kept


def test_transient_failures_end_in_failed_once_attempts_are_used(
    twilio: Any,
    sessions: sessionmaker[Session],
    store: LocalAudioStore,
    make_recording: Callable[..., int],
    fake_transcriber: FakeTranscriber,
    reload: Reload,
) -> None:
    url = twilio.script(REC_PATH + ".wav", twilio.Reply(503))
    rec_id = make_recording(url.removesuffix(".wav"))
    finished: list[int] = []
    ctx = context(sessions, store, fake_transcriber, opts=options(retries=0), finished=finished)

    outcomes = [jobs.process_recording(ctx, rec_id) for _ in range(4)]

    assert outcomes == [
        jobs.Outcome.RETRY,
        jobs.Outcome.RETRY,
        jobs.Outcome.FAILED,
        jobs.Outcome.SKIPPED,
    ]
    rec = reload(sessions, rec_id)
    assert rec.status is RecordingStatus.FAILED and rec.attempts == 3
    assert rec.error is not None and "HTTP 503" in rec.error
    assert finished == [rec.ticket_id]


def test_corrupt_audio_is_kept_but_fails_and_is_not_deleted_at_twilio(
    twilio: Any,
    sessions: sessionmaker[Session],
    store: LocalAudioStore,
    make_recording: Callable[..., int],
    fake_transcriber: FakeTranscriber,
    reload: Reload,
) -> None:
    garbage = os.urandom(5000)
    url = twilio.script(REC_PATH + ".wav", twilio.Reply(200, garbage))
    rec_id = make_recording(url.removesuffix(".wav"))
    opts = options(delete_at_twilio=True, twilio_api_url=twilio.base_url)

    outcome = jobs.process_recording(context(sessions, store, fake_transcriber, opts=opts), rec_id)

    assert outcome is jobs.Outcome.FAILED
    rec = reload(sessions, rec_id)
    assert rec.status is RecordingStatus.FAILED
    assert rec.error is not None and rec.error.startswith("audio_unreadable:")
    # Our copy is kept, exactly as received, and Twilio's copy is not deleted.
    assert rec.audio_key is not None and store.path(rec.audio_key).read_bytes() == garbage
    assert twilio.seen("DELETE") == []
    assert fake_transcriber.calls == 0


def test_verified_copy_is_deleted_at_twilio(
    twilio: Any,
    sessions: sessionmaker[Session],
    store: LocalAudioStore,
    make_recording: Callable[..., int],
    wav_speech: bytes,
    fake_transcriber: FakeTranscriber,
    reload: Reload,
) -> None:
    url = twilio.script(REC_PATH + ".wav", twilio.Reply(200, wav_speech))
    twilio.script(REC_PATH + ".json", twilio.Reply(204, content_type="application/json"))
    rec_id = make_recording(url.removesuffix(".wav"), recording_sid=f"RE{1:032d}")
    opts = options(delete_at_twilio=True, twilio_api_url=twilio.base_url)

    jobs.process_recording(context(sessions, store, fake_transcriber, opts=opts), rec_id)

    deletes = twilio.seen("DELETE", REC_PATH + ".json")
    assert len(deletes) == 1 and deletes[0].headers["Authorization"].startswith("Basic ")
    rec = reload(sessions, rec_id)
    assert rec.deleted_at_twilio_at is not None and rec.status is RecordingStatus.TRANSCRIBED


def test_silence_gives_an_explicit_no_speech_transcript(
    twilio: Any,
    sessions: sessionmaker[Session],
    store: LocalAudioStore,
    make_recording: Callable[..., int],
    wav_silence: bytes,
    base_model: Transcriber,
    reload: Reload,
) -> None:
    url = twilio.script(REC_PATH + ".wav", twilio.Reply(200, wav_silence))
    rec_id = make_recording(url.removesuffix(".wav"))

    outcome = jobs.process_recording(context(sessions, store, base_model), rec_id)

    assert outcome is jobs.Outcome.TRANSCRIBED
    transcript = reload(sessions, rec_id).transcript
    assert transcript is not None
    assert transcript.no_speech and transcript.text == "" and transcript.segments == []
    assert transcript.confidence is Confidence.NO_SPEECH
    assert transcript.audio_duration_s == pytest.approx(3.0, abs=0.01)


def test_duplicate_enqueue_processes_once(
    twilio: Any,
    sessions: sessionmaker[Session],
    store: LocalAudioStore,
    make_recording: Callable[..., int],
    wav_speech: bytes,
    fake_transcriber: FakeTranscriber,
) -> None:
    url = twilio.script(REC_PATH + ".wav", twilio.Reply(200, wav_speech))
    rec_id = make_recording(url.removesuffix(".wav"))
    ctx = context(sessions, store, fake_transcriber)

    first = jobs.process_recording(ctx, rec_id)
    second = jobs.process_recording(ctx, rec_id)

    assert (first, second) == (jobs.Outcome.TRANSCRIBED, jobs.Outcome.SKIPPED)
    assert len(twilio.seen("GET")) == 1 and fake_transcriber.calls == 1
    assert count_transcripts(sessions, rec_id) == 1


def test_two_workers_at_once_never_process_one_recording_twice(
    twilio: Any,
    sessions: sessionmaker[Session],
    store: LocalAudioStore,
    make_recording: Callable[..., int],
    wav_speech: bytes,
    fake_transcriber: FakeTranscriber,
) -> None:
    # A slow download keeps the first worker's claim open while the second one arrives.
    url = twilio.script(REC_PATH + ".wav", twilio.Reply(200, wav_speech, delay_s=0.5))
    rec_id = make_recording(url.removesuffix(".wav"))
    outcomes: list[jobs.Outcome] = []

    def work(name: str) -> None:
        ctx = context(sessions, store, fake_transcriber, worker=name)
        outcomes.append(jobs.process_recording(ctx, rec_id))

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)

    assert sorted(outcomes) == sorted([jobs.Outcome.TRANSCRIBED, jobs.Outcome.SKIPPED])
    assert len(twilio.seen("GET")) == 1 and fake_transcriber.calls == 1
    assert count_transcripts(sessions, rec_id) == 1


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://127.0.0.2:9/recording", "download_host_not_allowed"),
        ("https://evil.example.com/2010-04-01/Recordings/RE1", "download_host_not_allowed"),
        ("ftp://127.0.0.1/recording", "download_insecure"),
    ],
)
def test_hosts_outside_the_allow_list_are_never_contacted(
    twilio: Any,
    sessions: sessionmaker[Session],
    store: LocalAudioStore,
    make_recording: Callable[..., int],
    fake_transcriber: FakeTranscriber,
    reload: Reload,
    url: str,
    code: str,
) -> None:
    rec_id = make_recording(url)

    outcome = jobs.process_recording(context(sessions, store, fake_transcriber), rec_id)

    assert outcome is jobs.Outcome.FAILED
    rec = reload(sessions, rec_id)
    assert rec.error is not None and rec.error.startswith(code + ":")
    assert twilio.requests == []


def test_plain_http_is_refused_for_a_real_host(
    sessions: sessionmaker[Session],
    store: LocalAudioStore,
    make_recording: Callable[..., int],
    fake_transcriber: FakeTranscriber,
    reload: Reload,
) -> None:
    rec_id = make_recording("http://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1")
    opts = options(allowed_hosts=("api.twilio.com",))

    jobs.process_recording(context(sessions, store, fake_transcriber, opts=opts), rec_id)

    error = reload(sessions, rec_id).error
    assert error is not None and error.startswith("download_insecure:")


def test_credentials_are_not_sent_to_another_host_on_redirect(
    twilio: Any,
    sessions: sessionmaker[Session],
    store: LocalAudioStore,
    make_recording: Callable[..., int],
    wav_speech: bytes,
    fake_transcriber: FakeTranscriber,
) -> None:
    port = twilio.base_url.rsplit(":", 1)[1]
    cdn = f"http://localhost:{port}/media/signed.wav"
    twilio.script("/media/signed.wav", twilio.Reply(200, wav_speech))
    url = twilio.script(REC_PATH + ".wav", twilio.Reply(302, headers={"Location": cdn}))
    rec_id = make_recording(url.removesuffix(".wav"))

    outcome = jobs.process_recording(context(sessions, store, fake_transcriber), rec_id)

    assert outcome is jobs.Outcome.TRANSCRIBED
    assert "Authorization" in twilio.seen("GET", REC_PATH + ".wav")[0].headers
    assert "Authorization" not in twilio.seen("GET", "/media/signed.wav")[0].headers


def test_a_recording_over_the_size_limit_is_refused_without_a_file(
    twilio: Any,
    sessions: sessionmaker[Session],
    store: LocalAudioStore,
    make_recording: Callable[..., int],
    wav_speech: bytes,
    fake_transcriber: FakeTranscriber,
    reload: Reload,
) -> None:
    url = twilio.script(REC_PATH + ".wav", twilio.Reply(200, wav_speech))
    rec_id = make_recording(url.removesuffix(".wav"))
    opts = options(max_bytes=len(wav_speech) // 2)

    outcome = jobs.process_recording(context(sessions, store, fake_transcriber, opts=opts), rec_id)

    assert outcome is jobs.Outcome.FAILED
    error = reload(sessions, rec_id).error
    assert error is not None and error.startswith("download_too_large:")
    assert stored_files(store) == []


class FullDisk(LocalAudioStore):
    """A local store whose disk fills up after the first chunk of a file."""

    def put(self, key: str, chunks: Any) -> StoredAudio:
        def until_full() -> Any:
            for i, chunk in enumerate(chunks):
                if i == 1:
                    raise OSError(28, "No space left on device")
                yield chunk

        return super().put(key, until_full())


def ten_seconds_of_wav(tmp_path: Path) -> bytes:
    """A 320 KB WAV file: several download chunks."""
    wav = tmp_path / "long.wav"
    encode_audio(np.full(10 * SAMPLE_RATE, 0.1, dtype=np.float32), wav, codec="pcm_s16le")
    return wav.read_bytes()


def test_a_full_disk_leaves_no_partial_file_and_the_recording_waits(
    twilio: Any,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    make_recording: Callable[..., int],
    fake_transcriber: FakeTranscriber,
    reload: Reload,
) -> None:
    body = ten_seconds_of_wav(tmp_path)
    assert len(body) > 2 * 64 * 1024  # several chunks, so the disk fills mid-file
    url = twilio.script(REC_PATH + ".wav", twilio.Reply(200, body))
    rec_id = make_recording(url.removesuffix(".wav"))
    store = FullDisk(tmp_path / "full")

    outcome = jobs.process_recording(context(sessions, store, fake_transcriber), rec_id)

    assert outcome is jobs.Outcome.RETRY
    rec = reload(sessions, rec_id)
    assert rec.status is RecordingStatus.PENDING and rec.audio_key is None
    assert rec.error is not None and rec.error.startswith("audio_store_failed:")
    assert "No space left" in rec.error
    assert stored_files(store) == []  # not even a temp file


@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    """A real 256 KiB filesystem (tmpfs), where the root may mount one; else skipped."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root and mount(8)")
    mount = tmp_path / "small-disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {made.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_really_full_disk_keeps_nothing_partial_and_the_retry_stores_the_audio(
    twilio: Any,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    small_disk: Path,
    make_recording: Callable[..., int],
    fake_transcriber: FakeTranscriber,
    reload: Reload,
) -> None:
    body = ten_seconds_of_wav(tmp_path)  # more than the disk holds
    url = twilio.script(REC_PATH + ".wav", twilio.Reply(200, body), twilio.Reply(200, body))
    rec_id = make_recording(url.removesuffix(".wav"))
    store = LocalAudioStore(small_disk / "audio")
    ctx = context(sessions, store, fake_transcriber)

    assert jobs.process_recording(ctx, rec_id) is jobs.Outcome.RETRY
    rec = reload(sessions, rec_id)
    assert rec.status is RecordingStatus.PENDING and rec.audio_key is None
    assert rec.error is not None and "No space left" in rec.error
    assert stored_files(store) == []  # not even a temp file: the space is free again

    # The operator makes room (here: a larger disk); the job's retry stores and transcribes.
    subprocess.run(["mount", "-o", "remount,size=2m", str(small_disk)], check=True)
    assert jobs.process_recording(ctx, rec_id) is jobs.Outcome.TRANSCRIBED
    rec = reload(sessions, rec_id)
    assert rec.status is RecordingStatus.TRANSCRIBED and rec.audio_key is not None
    assert store.size(rec.audio_key) == len(body)


def test_a_transcription_failure_keeps_the_audio_and_retries_from_it(
    twilio: Any,
    sessions: sessionmaker[Session],
    store: LocalAudioStore,
    make_recording: Callable[..., int],
    wav_speech: bytes,
    reload: Reload,
) -> None:
    class Broken(FakeTranscriber):
        def transcribe(self, audio: Any, *, language: str = "vi") -> Any:
            self.calls += 1
            if self.calls == 1:
                raise RuntimeError("CUDA out of memory")
            return super().transcribe(audio, language=language)

    broken = Broken()
    url = twilio.script(REC_PATH + ".wav", twilio.Reply(200, wav_speech))
    rec_id = make_recording(url.removesuffix(".wav"))
    ctx = context(sessions, store, broken)

    assert jobs.process_recording(ctx, rec_id) is jobs.Outcome.RETRY
    rec = reload(sessions, rec_id)
    assert rec.status is RecordingStatus.STORED
    assert rec.error is not None and "CUDA out of memory" in rec.error
    assert jobs.process_recording(ctx, rec_id) is jobs.Outcome.TRANSCRIBED
    assert len(twilio.seen("GET")) == 1  # the audio was not fetched again


def test_sweep_wakes_waiting_rows_after_a_grace_period(
    sessions: sessionmaker[Session],
    store: LocalAudioStore,
    make_recording: Callable[..., int],
    fake_transcriber: FakeTranscriber,
) -> None:
    rec_id = make_recording("http://127.0.0.1:9/r")
    now = utcnow()
    fresh = context(sessions, store, fake_transcriber, clock=lambda: now)
    later = context(sessions, store, fake_transcriber, clock=lambda: now + timedelta(minutes=2))

    assert jobs.sweep(fresh) == []  # its own job is on its way
    assert jobs.sweep(later) == [rec_id]


KILLABLE_WORKER = """
import sys
from pathlib import Path
from storage.audio_store import LocalAudioStore
from storage.db import make_engine, make_session_factory
from transcription import jobs
from transcription.audio import SAMPLE_RATE, decode_audio, encode_audio
from transcription.download import Downloader
from transcription.fakes import FakeTranscriber
from transcription.options import DownloadOptions, JobOptions

url, root, rec_id = sys.argv[1], sys.argv[2], int(sys.argv[3])
opts = JobOptions(download=DownloadOptions(allowed_hosts=("127.0.0.1",), timeout_s=60))
ctx = jobs.JobContext(
    sessions=make_session_factory(make_engine(url)), store=LocalAudioStore(Path(root)),
    transcriber=FakeTranscriber, options=opts, downloader=Downloader(opts.download),
    worker="doomed-worker",
)
jobs.process_recording(ctx, rec_id)
"""


def test_a_worker_killed_mid_download_is_finished_by_the_sweep_exactly_once(
    twilio: Any,
    rt: Any,
    sessions: sessionmaker[Session],
    store: LocalAudioStore,
    make_recording: Callable[..., int],
    wav_speech: bytes,
    fake_transcriber: FakeTranscriber,
    reload: Reload,
) -> None:
    # The first download stalls half-way; the worker process is killed while it waits.
    url = twilio.script(
        REC_PATH + ".wav",
        twilio.Reply(200, wav_speech, stall_after=len(wav_speech) // 2),
        twilio.Reply(200, wav_speech),
    )
    rec_id = make_recording(url.removesuffix(".wav"))
    root = Path(__file__).resolve().parents[2]
    doomed = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLABLE_WORKER,
            rt.settings.database_url,
            str(store.root),
            str(rec_id),
        ],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        assert twilio.got_request.wait(30), "the worker never asked for the recording"
        time.sleep(0.2)  # let it write the first half into its temp file
        doomed.kill()
        doomed.wait(10)
    finally:
        if doomed.poll() is None:
            doomed.kill()
    rec = reload(sessions, rec_id)
    assert rec.status is RecordingStatus.DOWNLOADING and rec.claimed_by == "doomed-worker"

    # Another worker woken now must not touch a claim that may still be alive ...
    now = utcnow()
    assert jobs.process_recording(context(sessions, store, fake_transcriber), rec_id) is (
        jobs.Outcome.SKIPPED
    )
    assert jobs.sweep(context(sessions, store, fake_transcriber, clock=lambda: now)) == []
    # ... but once the claim is stale, the sweep hands the recording on, and it is finished.
    later = now + timedelta(minutes=16)
    sweeper = context(sessions, store, fake_transcriber, clock=lambda: later)
    assert jobs.sweep(sweeper) == [rec_id]
    assert jobs.sweep(sweeper) == []  # just handed on: not woken twice within the grace
    ctx = context(sessions, store, fake_transcriber)
    assert jobs.process_recording(ctx, rec_id) is jobs.Outcome.TRANSCRIBED
    assert jobs.process_recording(ctx, rec_id) is jobs.Outcome.SKIPPED

    rec = reload(sessions, rec_id)
    assert rec.status is RecordingStatus.TRANSCRIBED and rec.attempts == 3
    assert count_transcripts(sessions, rec_id) == 1 and fake_transcriber.calls == 1
    # The killed worker's half-written temp file is not left under the final name.
    assert rec.audio_key is not None and store.path(rec.audio_key).read_bytes() == wav_speech
    finals = [f for f in stored_files(store) if not Path(f).name.startswith(".incoming-")]
    assert finals == [rec.audio_key]


def test_a_worker_lost_too_often_fails_the_recording(
    sessions: sessionmaker[Session],
    store: LocalAudioStore,
    make_recording: Callable[..., int],
    fake_transcriber: FakeTranscriber,
    reload: Reload,
) -> None:
    long_ago = utcnow() - timedelta(hours=1)
    rec_id = make_recording(
        "http://127.0.0.1:9/r",
        status=RecordingStatus.TRANSCRIBING,
        claimed_by="gone",
        claimed_at=long_ago,
        attempts=3,
        audio_key="2026/01/RE1.wav",
    )
    finished: list[int] = []

    assert jobs.sweep(context(sessions, store, fake_transcriber, finished=finished)) == []

    rec = reload(sessions, rec_id)
    assert rec.status is RecordingStatus.FAILED
    assert rec.error is not None and rec.error.startswith("worker_lost:")
    assert finished == [rec.ticket_id]
