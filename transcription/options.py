"""Options of the transcription subsystem, as plain data.

The composition root (hotline/wiring_transcription.py) builds these from the hotline's settings;
nothing in this package reads the environment. Defaults were chosen by measurement on the
shared Vietnamese clips (bench/transcribe.py; numbers in bench/README.md), on a 2-core CPU with
Whisper base; each default says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

WINDOW_S = 30.0  # Whisper hears 30 s at a time
MAX_WINDOW_TOKENS = 224  # and writes at most 224 tokens per window (half its text context)


def default_cache_dir() -> Path:
    """Return where models are assembled when no cache folder is configured."""
    return Path.home() / ".cache" / "hotline" / "models"


@dataclass(frozen=True)
class DecodeOptions:
    """How Whisper decodes; the same for both engines where both support an option."""

    # Every default below was measured on the 24 shared phone clips and the 20-50 s messages
    # made from them, with base on 2 CPU cores (bench/README.md, "decoding options"); each
    # comment gives the phone-clip WER of the alternative against the defaults' 0.711.

    # Beam 5: greedy 0.784, for about 20 % less CPU. (An earlier note said greedy was as
    # accurate; that was measured with the temperature fallback below switched on.)
    beam_size: int = 5
    # No temperature fallback: with it 0.740 and twice the CPU. It re-decodes a window by
    # sampling at rising temperatures when its gzip ratio is > 2.4 (a loop) or its mean
    # log-prob < -1; base is that unsure of nearly every Vietnamese window, so it re-decoded
    # almost everything, and the sampling made results vary from run to run. Loops, the reason
    # it exists, are bounded by the token cap and collapsed by the guards instead.
    temperatures: tuple[float, ...] = (0.0,)
    compression_ratio_threshold: float = 2.4
    log_prob_threshold: float | None = -1.0
    # Whisper's own no-speech rule (0.6): 0.746, because it dropped the real speech of 2 clips;
    # silence is judged by the speech check and the guards instead (speech.py).
    no_speech_threshold: float | None = None
    # Conditioning on the previous window's text: 0.711 against 0.655 on the long messages
    # (one bad window spoils the next).
    condition_on_previous_text: bool = False
    # Silero VAD cutting the audio before Whisper: 0.737 (it clips band-limited speech) ...
    vad_filter: bool = False
    # ... but it tells well whether anyone speaks at all: see speech.py.
    speech_check: bool = True
    # A generic Vietnamese domain prompt: 0.813. Kept as options for larger models, which
    # follow prompts better.
    initial_prompt: str | None = None
    hotwords: str | None = None
    # Cap on tokens per window from the audio's length (no cap: 0.725 and 16 % more CPU): a
    # 3 s message cannot hold 224 tokens, but a loop fills them. Vietnamese read speech on the
    # shared clips peaks near 8.4 tokens/s; twice that plus a margin never cuts real speech.
    # None: Whisper's own limit of 224 per 30 s window.
    max_tokens_per_second: float | None = 16.0

    def token_cap(self, duration_s: float) -> int | None:
        """Return the most tokens one window may produce, or None for Whisper's own limit."""
        if self.max_tokens_per_second is None:
            return None
        cap = math.ceil(min(duration_s, WINDOW_S) * self.max_tokens_per_second) + 8
        return cap if cap < MAX_WINDOW_TOKENS else None


@dataclass(frozen=True)
class EngineOptions:
    """Which engine and weights to use, and where they run."""

    engine: str = "faster-whisper"  # or "openai-whisper", or "fake" in tests and demos
    model: str = "base"
    device: str = "auto"  # "cpu", "cuda" or "auto"
    # "auto": float16 on CUDA; on CPU int8: the same WER as float32 on the phone clips (0.711
    # against 0.708) for half the CPU time and 364 MB peak against 557 MB.
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
