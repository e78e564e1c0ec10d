"""Load on the phone line: many callers at once through every webhook, against gunicorn on loopback.

    python bench/load.py                                  # 50 callers, 500 calls, SQLite
    python bench/load.py --database-url postgresql://hotline:hotline@127.0.0.1:5432/hotline
    python bench/load.py --calls 200 --concurrency 100 --think-ms 200
    python bench/load.py --e2e                            # a 60 s voicemail, idle worker, Whisper
    python bench/load.py --backlog 100                    # 100 voicemails at once: drain rate

Each run builds a fresh instance in a temporary folder: a new database (a SQLite file, or with
--database-url a new PostgreSQL database created on that server and dropped afterwards; the
role needs CREATEDB), migrated and seeded; gunicorn on 127.0.0.1 (gthread workers, as the
Procfile runs it); Twilio's media URLs served on 127.0.0.1 by the simulator's RecordingServer.
Nothing but loopback is contacted.

Load mode: every simulated caller places calls one after another, as Twilio would drive them
(signed webhooks, following the TwiML): incoming, menu (key 1), record action, recording-status
"completed", call status "completed". `--think-ms` pauses between one call's webhooks (a real
caller listens to prompts for seconds; 0, the default, is the stress case: every caller always
has a request in flight). Callers start at random moments over one call's length and pause
0.5-1.5 x think (`--arrivals burst`: all at once, exactly think: lockstep). 16 warm-up calls,
not measured, come first. Reported per webhook: requests, errors, p50/p95/p99/max latency (ms)
as the callers saw it, p50/p99 of gunicorn's own time (its access log), and requests per second
over the run. Afterwards the database is checked: every call has
exactly one ticket and every recording exactly one Recording row; then a worker transcribes
them all with the fake engine (`--no-transcribe` skips it) and every recording must have exactly
one transcript.

--e2e: a worker (`hotline worker --queue transcription`, the real Whisper base) is started and
warmed up (model loaded), then a voicemail of --e2e-seconds (60) is left; reported is the time
from sending the recording callback to the transcript being in the database, --e2e-repeat times.
--backlog N: N voicemails of --backlog-seconds are left while no worker runs, then one worker
starts; reported are the time to the first and to the last transcript and the drain rate.
Audio for both: the shared Vietnamese phone clips (HOTLINE_BENCH_DATA, default
../shared/data/vi-speech) joined to the length wanted, or --audio FILE.

The machine is shared: look at `uptime` first; the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import requests
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ivr.simulate import RecordingServer  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import make_engine, transaction  # noqa: E402
from storage.models import Call, Recording, RecordingStatus, Ticket, Transcript  # noqa: E402
from storage.seed import seed_reference  # noqa: E402

DATA = Path(os.environ.get("HOTLINE_BENCH_DATA", ROOT.parent / "shared" / "data" / "vi-speech"))
ACCOUNT_SID = "AC" + "0" * 32
WEBHOOKS = ("incoming", "menu", "record", "recording-status", "status")
PAUSE_S = 0.7  # between joined sentences, as a caller draws breath


# --- the instance under test ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s:.0f} s")


@dataclass
class Instance:
    """A hotline of its own: folder, database, gunicorn, media server, optional worker."""

    args: argparse.Namespace
    audio: bytes
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hotline-load-")))
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    port: int = field(default_factory=free_port)
    database_url: str = ""
    admin: Engine | None = None
    engine: Engine | None = None
    gunicorn: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    media: RecordingServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_"))}
        for name in ("DATABASE_URL", "REDIS_URL", "FLASK_DEBUG"):
            env.pop(name, None)
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "HOTLINE_INSTANCE_PATH": str(self.folder / "instance"),
                "SECRET_KEY": secrets.token_hex(16),
                "TWILIO_AUTH_TOKEN": self.token,
                "HOTLINE_RECORDING_HOSTS": "127.0.0.1",
                "HOTLINE_SMS_CONFIRMATION": "false",
                "HOTLINE_TWILIO_API_URL": "http://127.0.0.1:9",  # never Twilio, even by mistake
                "HOTLINE_MAX_AUDIO_SECONDS": "900",
            }
        )
        if self.args.redis_url:
            env["REDIS_URL"] = self.args.redis_url
        env.update(extra)
        return env

    def start(self) -> None:
        self._create_database()
        self.engine = make_engine(self.database_url, poolclass=NullPool)
        migrate.upgrade(self.database_url)
        with transaction(sessionmaker(bind=self.engine)) as db:
            seed_reference(db)
        self._empty_redis_queues()
        self.media = RecordingServer(self.audio, auth_token=self.token)
        self.media.__enter__()
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.args.gunicorn_workers),
            "--threads",
            str(self.args.gunicorn_threads),
            "--worker-class",
            "gthread",
            "--backlog",
            "2048",
            # The server's own time per request (%(D)s, microseconds), beside the callers'.
            "--access-logfile",
            str(self.folder / "access.log"),
            "--access-logformat",
            "%(s)s %(U)s %(D)s",
            "hotline.wsgi:app",
        ]
        log = (self.folder / "gunicorn.log").open("wb")
        # cwd: the temporary folder, so no .env of a developer's checkout is read.
        self.gunicorn = subprocess.Popen(
            command, cwd=self.folder, env=self.env(), stdout=log, stderr=subprocess.STDOUT
        )
        wait_for_port(self.port, 60)
        self._warm_up()

    def access_log_size(self) -> int:
        """Return the access log's length now: server times are read from there on."""
        log = self.folder / "access.log"
        return log.stat().st_size if log.exists() else 0

    def _empty_redis_queues(self) -> None:
        if self.args.redis_url:
            import redis

            # The hotline's queues only: RedisHuey's keys carry the queue name.
            client = redis.Redis.from_url(self.args.redis_url)
            for key in client.scan_iter("huey.*hotline*"):
                client.delete(key)

    def _create_database(self) -> None:
        if not self.args.database_url:
            self.database_url = f"sqlite:///{self.folder / 'hotline.db'}"
            return
        url = make_url(self.args.database_url)
        name = f"hotline_load_{os.getpid()}"
        self.admin = make_engine(self.args.database_url, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.database_url = url.set(database=name).render_as_string(hide_password=False)

    def _warm_up(self) -> None:
        # gunicorn listens before its workers have imported the app; the first requests would
        # measure the import. Unsigned requests are cheap (403) and load every worker.
        with requests.Session() as http:
            http.trust_env = False
            for _ in range(4 * self.args.gunicorn_workers * self.args.gunicorn_threads):
                http.post(self.base_url + "/ivr/incoming", data={}, timeout=60)

    def start_worker(self, engine: str) -> None:
        log = (self.folder / "worker.log").open("ab")
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "hotline", "worker", "--queue", "transcription"],
            cwd=self.folder,
            env=self.env(HOTLINE_TRANSCRIBE_ENGINE=engine),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.terminate()
            try:
                self.worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.worker.kill()
            self.worker = None

    def stop(self) -> None:
        self.stop_worker()
        if self.gunicorn is not None:
            self.gunicorn.terminate()
            self.gunicorn.wait(timeout=30)
        if self.media is not None:
            self.media.__exit__(None, None, None)
        if self.engine is not None:
            self.engine.dispose()
        if not self.args.keep:
            self._empty_redis_queues()
        if self.admin is not None and not self.args.keep:
            name = make_url(self.database_url).database
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            self.admin.dispose()
        if self.args.keep:
            print(f"kept: {self.folder} ({self.database_url})")
        else:
            shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def running(args: argparse.Namespace, audio: bytes) -> Iterator[Instance]:
    instance = Instance(args, audio)
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()


# --- Twilio's side of the calls -------------------------------------------------------------------


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: list[str] = field(default_factory=list)
    call_sids: list[str] = field(default_factory=list)
    recording_sids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    wall_s: float = 0.0

    def record(self, name: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latencies[name].append(seconds)
            if error is not None:
                self.errors[name] += 1
                if len(self.samples) < 10:
                    self.samples.append(f"{name}: {error}")


class Caller:
    """Places calls like Twilio: signed webhooks, following the TwiML it gets back."""

    def __init__(
        self, instance: Instance, results: Results, think_s: float, rng: random.Random | None
    ) -> None:
        self.instance = instance
        self.results = results
        self.think_s = think_s
        # None: every pause is exactly think_s (the lockstep "burst" arrivals).
        self.rng = rng
        self.validator = RequestValidator(instance.token)
        self.http = requests.Session()
        self.http.trust_env = False

    def post(self, name: str, url: str, params: dict[str, str]) -> ET.Element | None:
        signature = self.validator.compute_signature(url, params)
        started = time.perf_counter()
        error: str | None = None
        root: ET.Element | None = None
        try:
            response = self.http.post(
                url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30
            )
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                error = f"HTTP {response.status_code}: {response.text[:120]!r}"
            else:
                root = ET.fromstring(response.content)
        except (requests.RequestException, ET.ParseError) as exc:
            elapsed = time.perf_counter() - started
            error = f"{type(exc).__name__}: {exc}"
        self.results.record(name, elapsed, error)
        if self.think_s:
            time.sleep(self.pause())
        return root

    def pause(self) -> float:
        """The time until this caller's next webhook: think_s, or 0.5-1.5 x think_s."""
        if self.rng is None:
            return self.think_s
        return self.think_s * self.rng.uniform(0.5, 1.5)

    def call(self, duration_s: int = 20) -> tuple[str, str | None]:
        """Place one call that leaves a message; return (CallSid, RecordingSid or None)."""
        call_sid = "CA" + uuid.uuid4().hex
        caller = f"+8491{secrets.randbelow(10**7):07d}"
        base = {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "CallSid": call_sid,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "From": caller,
            "Caller": caller,
            "To": "+842223999999",
            "Called": "+842223999999",
        }
        with self.results.lock:
            self.results.call_sids.append(call_sid)
        doc = self.post("incoming", self.instance.base_url + "/ivr/incoming", base)
        gather = doc.find("Gather") if doc is not None else None
        if gather is None:
            return call_sid, None
        doc = self.post("menu", gather.attrib["action"], {**base, "Digits": "1"})
        record = doc.find("Record") if doc is not None else None
        if record is None:
            return call_sid, None
        assert self.instance.media is not None
        sid = "RE" + uuid.uuid4().hex
        recording = {
            "RecordingSid": sid,
            "RecordingUrl": self.instance.media.url_for(sid),
            "RecordingDuration": str(duration_s),
        }
        with self.results.lock:
            self.results.recording_sids.append(sid)
        # Twilio runs the action as the caller presses #, then reports the file when it is ready.
        self.post("record", record.attrib["action"], {**base, **recording, "Digits": "#"})
        self.post(
            "recording-status",
            record.attrib["recordingStatusCallback"],
            {**base, **recording, "RecordingStatus": "completed", "RecordingChannels": "1"},
        )
        self.post(
            "status",
            self.instance.base_url + "/ivr/status",
            {**base, "CallStatus": "completed", "CallDuration": str(duration_s + 25)},
        )
        return call_sid, sid


def place_calls(
    instance: Instance, calls: int, concurrency: int, think_s: float, arrivals: str = "staggered"
) -> Results:
    """Place `calls` calls, `concurrency` at a time; return every webhook's latency.

    arrivals "staggered": callers start at random moments over one call's length and pause
    0.5-1.5 x think between webhooks, as independent callers do. "burst": all callers start
    at the same instant and pause exactly think, so their webhooks stay in lockstep (50
    requests at once, every second): a worst case no real switchboard produces.
    """
    results = Results()
    local = threading.local()
    deadline = time.monotonic() + instance.args.max_seconds
    seeds = itertools.count(instance.args.seed)
    seed_lock = threading.Lock()

    def one(_: int) -> None:
        if time.monotonic() > deadline:
            return
        caller = getattr(local, "caller", None)
        if caller is None:
            rng: random.Random | None = None
            if arrivals == "staggered":
                with seed_lock:
                    rng = random.Random(next(seeds))
                # A call makes 5 webhooks: start somewhere within one call's length.
                time.sleep(rng.uniform(0, 5 * think_s))
            caller = local.caller = Caller(instance, results, think_s, rng)
        caller.call()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(calls)))
    results.wall_s = time.perf_counter() - started
    return results


# --- checks and reports ---------------------------------------------------------------------------


def check_rows(instance: Instance, results: Results) -> dict[str, Any]:
    """Every call exactly one ticket; every recording exactly one Recording row."""
    assert instance.engine is not None
    with instance.engine.connect() as conn:
        tickets = dict(
            conn.execute(
                select(Call.call_sid, func.count(Ticket.id))
                .outerjoin(Ticket, Ticket.call_id == Call.id)
                .group_by(Call.call_sid)
            ).all()
        )
        recordings = dict(
            conn.execute(
                select(Recording.recording_sid, func.count(Recording.id)).group_by(
                    Recording.recording_sid
                )
            ).all()
        )
    bad_calls = [sid for sid in results.call_sids if tickets.get(sid, 0) != 1]
    bad_recordings = [sid for sid in results.recording_sids if recordings.get(sid, 0) != 1]
    return {
        "calls": len(results.call_sids),
        "calls_without_exactly_one_ticket": len(bad_calls),
        "recordings": len(results.recording_sids),
        "recordings_without_exactly_one_row": len(bad_recordings),
    }


def transcribe_all(instance: Instance, results: Results) -> dict[str, Any]:
    """Run a worker with the fake engine over the queue; every recording one transcript."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "hotline", "worker", "--queue", "transcription", "--once"],
        cwd=instance.folder,
        env=instance.env(HOTLINE_TRANSCRIBE_ENGINE="fake"),
        capture_output=True,
        text=True,
        timeout=instance.args.max_seconds,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    elapsed = time.perf_counter() - started
    counts = transcript_counts(instance, results.recording_sids)
    return {
        "fake_worker_s": round(elapsed, 2),
        "recordings_without_exactly_one_transcript": sum(
            1 for sid in results.recording_sids if counts.get(sid, 0) != 1
        ),
    }


def transcript_counts(instance: Instance, sids: list[str]) -> dict[str, int]:
    assert instance.engine is not None
    with instance.engine.connect() as conn:
        rows = conn.execute(
            select(Recording.recording_sid, func.count(Transcript.id))
            .outerjoin(Transcript, Transcript.recording_id == Recording.id)
            .where(Recording.recording_sid.in_(sids))
            .group_by(Recording.recording_sid)
        ).all()
    return {sid: int(n) for sid, n in rows}


def percentile_ms(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.array(values) * 1000, q)), 1) if values else 0.0


def server_latencies(instance: Instance, offset: int = 0) -> dict[str, list[float]]:
    """Return gunicorn's own time per answered webhook (seconds), from its access log.

    The callers' latency also holds the network stack and the load generator's own waits for
    the CPU (it shares the machine); the server's time is what the hotline itself spends.
    """
    found: dict[str, list[float]] = defaultdict(list)
    log = instance.folder / "access.log"
    if not log.exists():
        return found
    with log.open("rb") as lines:
        lines.seek(offset)
        text = lines.read().decode()
    for line in text.splitlines():
        status, path, micros = [*line.split(), "", "", ""][:3]
        name = path.removeprefix("/ivr/")
        if status == "200" and name in WEBHOOKS and micros.isdigit():
            found[name].append(int(micros) / 1e6)
    return found


def summarize(results: Results, server: dict[str, list[float]]) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    total = 0
    for name in WEBHOOKS:
        values = results.latencies.get(name, [])
        total += len(values)
        rows[name] = {
            "requests": len(values),
            "errors": results.errors.get(name, 0),
            "p50_ms": percentile_ms(values, 50),
            "p95_ms": percentile_ms(values, 95),
            "p99_ms": percentile_ms(values, 99),
            "max_ms": round(max(values) * 1000, 1) if values else 0.0,
            "server_p50_ms": percentile_ms(server.get(name, []), 50),
            "server_p99_ms": percentile_ms(server.get(name, []), 99),
        }
    return {
        "webhooks": rows,
        "requests": total,
        "errors": sum(results.errors.values()),
        "wall_s": round(results.wall_s, 2),
        "requests_per_s": round(total / results.wall_s, 1) if results.wall_s else 0.0,
        "calls_per_s": round(len(results.call_sids) / results.wall_s, 2) if results.wall_s else 0,
        "error_samples": results.samples,
    }


def print_table(summary: dict[str, Any]) -> None:
    print(f"{'webhook':<18} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p99 ms':>8} {'max ms':>8} {'server p50':>10} {'server p99':>10}")  # fmt: skip
    for name, row in summary["webhooks"].items():
        print(
            f"{name:<18} {row['requests']:>8} {row['errors']:>6} {row['p50_ms']:>8} "
            f"{row['p95_ms']:>8} {row['p99_ms']:>8} {row['max_ms']:>8} "
            f"{row['server_p50_ms']:>10} {row['server_p99_ms']:>10}"
        )
    print(
        f"{summary['requests']} requests in {summary['wall_s']} s: "
        f"{summary['requests_per_s']} requests/s, {summary['calls_per_s']} calls/s, "
        f"{summary['errors']} errors"
    )
    for sample in summary["error_samples"]:
        print("  error:", sample)


# --- end to end: recording callback -> transcript visible -----------------------------------------


def voicemail(seconds: float, folder: Path) -> bytes:
    """Return an 8 kHz mu-law WAV of `seconds` of real Vietnamese speech (joined phone clips)."""
    from transcription.audio import SAMPLE_RATE, decode_audio, encode_audio

    manifest = DATA / "manifest.jsonl"
    if not manifest.is_file():
        raise SystemExit(f"no clips in {DATA}: set HOTLINE_BENCH_DATA or pass --audio FILE")
    clips = [json.loads(line) for line in manifest.read_text().splitlines()]
    pause = np.zeros(int(PAUSE_S * SAMPLE_RATE), dtype=np.float32)
    parts: list[Any] = []
    length = 0
    while length < seconds * SAMPLE_RATE:
        for clip in clips:
            samples = decode_audio(DATA / clip["phone"]).samples
            parts += [samples, pause]
            length += samples.size + pause.size
            if length >= seconds * SAMPLE_RATE:
                break
    joined = np.concatenate(parts)[: int(seconds * SAMPLE_RATE)].astype(np.float32)
    path = folder / f"voicemail-{seconds:.0f}s.wav"
    encode_audio(joined, path, codec="pcm_mulaw", rate=8000)
    return path.read_bytes()


def wait_transcribed(instance: Instance, sids: list[str], timeout_s: float) -> dict[str, float]:
    """Poll until every recording is transcribed or failed; return when each was first seen."""
    assert instance.engine is not None
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout_s
    while len(seen) < len(sids) and time.monotonic() < deadline:
        with instance.engine.connect() as conn:
            done = conn.execute(
                select(Recording.recording_sid).where(
                    Recording.recording_sid.in_([s for s in sids if s not in seen]),
                    Recording.status.in_([RecordingStatus.TRANSCRIBED, RecordingStatus.FAILED]),
                )
            ).scalars()
            now = time.perf_counter()
            for sid in done:
                seen[sid] = now
        time.sleep(0.05)
    return seen


def transcripts_of(instance: Instance, sids: list[str]) -> list[dict[str, Any]]:
    assert instance.engine is not None
    with instance.engine.connect() as conn:
        rows = conn.execute(
            select(
                Recording.recording_sid,
                Recording.status,
                Recording.error,
                Transcript.processing_s,
                Transcript.audio_duration_s,
                Transcript.text,
            )
            .outerjoin(Transcript, Transcript.recording_id == Recording.id)
            .where(Recording.recording_sid.in_(sids))
        ).all()
    return [dict(row._mapping) for row in rows]


def leave_voicemail(instance: Instance, seconds: int) -> tuple[str, float]:
    """Place one call; return its RecordingSid and when its recording callback was sent."""
    results = Results()
    caller = Caller(instance, results, 0.0, None)
    sent: dict[str, float] = {}
    original = caller.post

    def post(name: str, url: str, params: dict[str, str]) -> ET.Element | None:
        if name == "recording-status":
            sent["at"] = time.perf_counter()
        return original(name, url, params)

    caller.post = post  # type: ignore[method-assign]
    _, sid = caller.call(duration_s=seconds)
    if sid is None or results.errors:
        raise RuntimeError(f"the call failed: {results.samples}")
    return sid, sent["at"]


def run_e2e(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        audio = (
            Path(args.audio).read_bytes() if args.audio else voicemail(args.e2e_seconds, Path(tmp))
        )
    with running(args, audio) as instance:
        instance.start_worker("faster-whisper")
        # Warm up: the first job loads the model (an idle worker in production has it loaded).
        sid, sent = leave_voicemail(instance, int(args.e2e_seconds))
        seen = wait_transcribed(instance, [sid], args.max_seconds)
        warm_up_s = round(seen[sid] - sent, 2) if sid in seen else None
        runs = []
        for _ in range(args.e2e_repeat):
            time.sleep(2.0)  # idle
            sid, sent = leave_voicemail(instance, int(args.e2e_seconds))
            seen = wait_transcribed(instance, [sid], args.max_seconds)
            (row,) = transcripts_of(instance, [sid])
            runs.append(
                {
                    "callback_to_transcript_s": round(seen[sid] - sent, 2) if sid in seen else None,
                    "status": str(row["status"]),
                    "processing_s": row["processing_s"],
                    "audio_s": row["audio_duration_s"],
                    "text_start": (row["text"] or "")[:60],
                }
            )
    latencies = [r["callback_to_transcript_s"] for r in runs if r["callback_to_transcript_s"]]
    return {
        "voicemail_s": args.e2e_seconds,
        "first_job_with_model_load_s": warm_up_s,
        "runs": runs,
        "median_s": round(statistics.median(latencies), 2) if latencies else None,
    }


def run_backlog(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        audio = (
            Path(args.audio).read_bytes()
            if args.audio
            else voicemail(args.backlog_seconds, Path(tmp))
        )
    with running(args, audio) as instance:
        results = place_calls(instance, args.backlog, min(args.backlog, 20), 0.0)
        if results.errors:
            raise RuntimeError(f"calls failed: {results.samples}")
        started = time.perf_counter()
        instance.start_worker("faster-whisper")
        seen = wait_transcribed(instance, results.recording_sids, args.max_seconds)
        rows = transcripts_of(instance, results.recording_sids)
    done = sorted(seen.values())
    elapsed = (done[-1] - started) if done else None
    audio_s = sum(float(r["audio_duration_s"] or 0) for r in rows)
    return {
        "voicemails": args.backlog,
        "voicemail_s": args.backlog_seconds,
        "finished": len(done),
        "failed": sum(1 for r in rows if str(r["status"]).endswith("failed")),
        "first_transcript_s": round(done[0] - started, 1) if done else None,
        "all_transcribed_s": round(elapsed, 1) if elapsed else None,
        "voicemails_per_min": round(len(done) / elapsed * 60, 2) if elapsed else None,
        "audio_s_per_wall_s": round(audio_s / elapsed, 2) if elapsed else None,
    }


def run_load(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        from transcription.audio import SAMPLE_RATE, encode_audio

        path = Path(tmp) / "short.wav"
        t = np.arange(2 * SAMPLE_RATE, dtype=np.float32) / SAMPLE_RATE
        encode_audio((0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), path,
                     codec="pcm_mulaw", rate=8000)  # fmt: skip
        audio = path.read_bytes()
    with running(args, audio) as instance:
        # A worker's first calls compile SQL statements and fill its reference cache; a
        # long-lived server has done that long before (--warm-up-calls 0 measures it).
        workers = args.gunicorn_workers * args.gunicorn_threads
        place_calls(instance, args.warm_up_calls, workers, 0.0, "burst")
        measured_from = instance.access_log_size()
        results = place_calls(
            instance, args.calls, args.concurrency, args.think_ms / 1000, args.arrivals
        )
        summary = summarize(results, server_latencies(instance, measured_from))
        summary["rows"] = check_rows(instance, results)
        if args.transcribe:
            summary["rows"].update(transcribe_all(instance, results))
    return summary


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=500, help="calls to place (default 500)")
    parser.add_argument("--concurrency", type=int, default=50, help="callers at once (50)")
    parser.add_argument("--think-ms", type=float, default=0.0, help="pause between webhooks")
    parser.add_argument(
        "--arrivals",
        choices=("staggered", "burst"),
        default="staggered",
        help="callers start at random moments and pause 0.5-1.5 x think (staggered, default), "
        "or all start at once and pause exactly think (burst: lockstep, a worst case)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the arrivals")
    parser.add_argument(
        "--warm-up-calls",
        type=int,
        default=16,
        help="calls placed (and not measured) before the run, so every gunicorn worker has "
        "compiled its statements (default 16; 0 measures cold workers)",
    )
    parser.add_argument("--database-url", default="", help="a PostgreSQL server to use")
    parser.add_argument("--redis-url", default="", help="queues on Redis instead of SQLite")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--gunicorn-threads", type=int, default=4)
    parser.add_argument("--no-transcribe", dest="transcribe", action="store_false")
    parser.add_argument("--e2e", action="store_true", help="callback-to-transcript latency")
    parser.add_argument("--e2e-seconds", type=float, default=60.0)
    parser.add_argument("--e2e-repeat", type=int, default=3)
    parser.add_argument("--backlog", type=int, default=0, help="voicemails arriving at once")
    parser.add_argument("--backlog-seconds", type=float, default=30.0)
    parser.add_argument("--audio", default="", help="a WAV file for --e2e and --backlog")
    parser.add_argument("--max-seconds", type=float, default=1800, help="give up after this")
    parser.add_argument("--json", default="", help="also write the results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the folder and database")
    args = parser.parse_args()

    report: dict[str, Any] = {
        "mode": "postgresql" if args.database_url else "sqlite",
        "queue": "redis" if args.redis_url else "sqlite",
        "cpus": os.cpu_count(),
        "load_average_before": load_average(),
        "gunicorn": f"{args.gunicorn_workers} workers x {args.gunicorn_threads} threads",
    }
    if args.e2e:
        report["e2e"] = run_e2e(args)
        print(json.dumps(report["e2e"], indent=2, ensure_ascii=False))
    elif args.backlog:
        report["backlog"] = run_backlog(args)
        print(json.dumps(report["backlog"], indent=2, ensure_ascii=False))
    else:
        report.update(
            calls=args.calls,
            concurrency=args.concurrency,
            think_ms=args.think_ms,
            arrivals=args.arrivals,
        )
        report["load"] = run_load(args)
        print(
            f"{args.calls} calls, {args.concurrency} callers at once, think {args.think_ms} ms "
            f"({args.arrivals}), "
            f"{report['mode']} database, {report['queue']} queue, gunicorn {report['gunicorn']}"
        )
        print_table(report["load"])
        print("rows:", json.dumps(report["load"]["rows"]))
    report["load_average_after"] = load_average()
    print(
        f"load average before {report['load_average_before']}, after {report['load_average_after']}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
