"""Options of the transcription subsystem, as plain data.

The composition root (hotline/wiring_transcription.py) builds these from the hotline's settings;
nothing in this package reads the environment. Defaults were chosen by measurement on the
shared Vietnamese clips (bench/transcribe.py; numbers in bench/README.md), on a 2-core CPU with
Whisper base; each default says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


def default_cache_dir() -> Path:
    """Return where models are assembled when no cache folder is configured."""
    return Path.home() / ".cache" / "hotline" / "models"


@dataclass(frozen=True)
class DecodeOptions:
    """How Whisper decodes; the same for both engines where both support an option."""

    # Greedy decoding: on the 24 phone clips it was as accurate as beam 5 and faster (see the
    # README table); larger models on a GPU may set 5.
    beam_size: int = 1
    # Temperature fallback re-decodes a window that loops (gzip ratio > 2.4) or is unsure
    # (mean log-prob < -1): without it base looped on phone audio (WER 1.18 against 0.75).
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    compression_ratio_threshold: float = 2.4
    log_prob_threshold: float = -1.0
    no_speech_threshold: float = 0.6
    # Feeding the previous window's text as a prompt spreads one loop over the whole message;
    # off measured no worse on the 20-60 s messages and cannot cascade.
    condition_on_previous_text: bool = False
    # Silero VAD cuts band-limited telephone speech (WER 0.75 -> 0.86 on the phone clips).
    vad_filter: bool = False
    # A generic Vietnamese domain prompt made base worse (0.75 -> 0.88); kept as an option
    # for larger models, which follow prompts better.
    initial_prompt: str | None = None
    hotwords: str | None = None


@dataclass(frozen=True)
class EngineOptions:
    """Which engine and weights to use, and where they run."""

    engine: str = "faster-whisper"  # or "openai-whisper", or "fake" in tests and demos
    model: str = "base"
    device: str = "auto"  # "cpu", "cuda" or "auto"
    # "auto": float16 on CUDA; on CPU int8, which ran as fast as float32 here with the same
    # error rate and a third less memory.
    compute_type: str = "auto"
    cpu_threads: int = 0  # 0: one per core
    cache_dir: Path = field(default_factory=default_cache_dir)
    decode: DecodeOptions = field(default_factory=DecodeOptions)


@dataclass(frozen=True)
class DownloadOptions:
    """How the worker fetches a recording from Twilio (or a local fake of it)."""

    allowed_hosts: tuple[str, ...] = ("api.twilio.com",)
    account_sid: str = ""
    auth_token: str = ""
    max_bytes: int = 20 * 1024 * 1024
    timeout_s: float = 30.0
    # Attempts after the first; Twilio answers 404 for a few seconds after the recording
    # callback, until the file is ready.
    retries: int = 5
    backoff_s: float = 1.0  # first wait; doubles each time
    max_backoff_s: float = 30.0
    # Delete the recording at Twilio once our copy is verified (privacy, storage cost).
    delete_at_twilio: bool = False
    twilio_api_url: str = "https://api.twilio.com"


@dataclass(frozen=True)
class JobOptions:
    """How the worker processes recordings."""

    max_audio_seconds: float = 600.0
    # Attempts at a recording (claims), counting the first, before it is marked failed.
    max_attempts: int = 3
    # A claim older than this is a worker that died mid-job; the sweep hands it on.
    stuck_after_minutes: float = 15.0
    # The sweep leaves fresh pending rows alone for this long: their own job is on its way.
    pending_grace_s: float = 60.0
    download: DownloadOptions = field(default_factory=DownloadOptions)
