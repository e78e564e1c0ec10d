"""The default engine: faster-whisper (CTranslate2), on CPU or CUDA."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from transcription.audio import DecodedAudio
from transcription.errors import EngineUnavailable, ModelError
from transcription.models import ModelRef, resolve_model
from transcription.options import EngineOptions
from transcription.protocol import Segment, TranscriptResult
from transcription.results import run_engine

log = logging.getLogger(__name__)

ENGINE = "faster-whisper"


def pick_device(device: str) -> str:
    """Return "cuda" when asked for it, or for "auto" when a CUDA device is visible."""
    if device != "auto":
        return device
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def pick_compute_type(compute_type: str, device: str) -> str:
    """Return the CTranslate2 compute type for "auto": float16 on CUDA, int8 on CPU."""
    if compute_type != "auto":
        return compute_type
    # On the 2-core AMD CPU int8 gave the same error rate as float32 on the shared phone clips
    # for half the CPU time and two thirds of the memory (bench/README.md).
    return "float16" if device == "cuda" else "int8"


class FasterWhisperTranscriber:
    """Whisper through CTranslate2; the model loads on first use and is kept."""

    def __init__(self, options: EngineOptions) -> None:
        self.options = options
        self._model: Any = None
        self._ref: ModelRef | None = None
        self._lock = threading.Lock()
        self.load_s: float | None = None
        self.device = ""
        self.compute_type = ""

    @property
    def engine(self) -> str:
        return ENGINE

    @property
    def model_label(self) -> str:
        return self._ref.label if self._ref is not None else self.options.model

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            started = time.perf_counter()
            ref = resolve_model(self.options.model, self.options.cache_dir)
            if ref.kind == "openai_checkpoint":
                raise ModelError(
                    f"{ref.location} is an openai-whisper checkpoint; faster-whisper needs a "
                    "CTranslate2 model (or set HOTLINE_TRANSCRIBE_ENGINE=openai-whisper)"
                )
            try:
                from faster_whisper import WhisperModel
            except ImportError as exc:  # pragma: no cover - a core dependency
                raise EngineUnavailable("faster-whisper is not installed") from exc
            self.device = pick_device(self.options.device)
            self.compute_type = pick_compute_type(self.options.compute_type, self.device)
            kwargs: dict[str, Any] = {
                "device": self.device,
                "compute_type": self.compute_type,
                "cpu_threads": self.options.cpu_threads,
                "num_workers": 1,
                "download_root": str(self.options.cache_dir),
            }
            if ref.kind == "ct2_dir":
                # A complete local folder needs no hub; never let a typo turn into a download.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                kwargs["local_files_only"] = True
            try:
                self._model = WhisperModel(ref.location, **kwargs)
            except Exception as exc:
                raise ModelError(f"could not load Whisper model {ref.location}: {exc}") from exc
            self._ref = ref
            self.load_s = time.perf_counter() - started
            log.info(
                "loaded %s on %s/%s in %.1f s",
                ref.label,
                self.device,
                self.compute_type,
                self.load_s,
            )

    def transcribe(self, audio: DecodedAudio, *, language: str = "vi") -> TranscriptResult:
        self.load()
        return run_engine(
            audio,
            language=language,
            engine=ENGINE,
            model=self.model_label,
            speech_check=self.options.decode.speech_check,
            decode=lambda: self._decode(audio, language),
        )

    def _decode(self, audio: DecodedAudio, language: str) -> list[Segment]:
        d = self.options.decode
        raw_segments, _info = self._model.transcribe(
            audio.samples,
            language=language,
            task="transcribe",
            beam_size=d.beam_size,
            best_of=5,
            temperature=list(d.temperatures),
            compression_ratio_threshold=d.compression_ratio_threshold,
            log_prob_threshold=d.log_prob_threshold,
            no_speech_threshold=d.no_speech_threshold,
            condition_on_previous_text=d.condition_on_previous_text,
            initial_prompt=d.initial_prompt,
            hotwords=d.hotwords,
            vad_filter=d.vad_filter,
            without_timestamps=False,
            max_new_tokens=d.token_cap(audio.duration_s),
        )
        # The segments are a generator: decoding happens while we iterate.
        segments = [
            Segment(
                start=float(s.start),
                end=float(s.end),
                text=str(s.text).strip(),
                avg_logprob=float(s.avg_logprob),
                no_speech_prob=float(s.no_speech_prob),
                compression_ratio=float(s.compression_ratio),
            )
            for s in raw_segments
        ]
        return segments
