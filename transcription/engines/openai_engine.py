"""The reference engine: OpenAI's own `whisper` package (PyTorch), an optional extra.

Install it with `pip install 'hotline[openai-whisper]'` after a CPU build of torch (see the
Makefile: it keeps `triton`, a 1 GB GPU compiler, out). It takes a size name (downloaded by the
library, where the internet allows), a `.pt` checkpoint, or a CTranslate2 folder such as the
bundled default, which is converted once into the cache (`transcription.convert`) so both
engines run the same weights. Audio goes in as an array, so no `ffmpeg` binary is needed.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from transcription.audio import DecodedAudio
from transcription.errors import EngineUnavailable, ModelError
from transcription.models import ModelRef, resolve_model
from transcription.options import EngineOptions
from transcription.protocol import Segment, TranscriptResult
from transcription.results import run_engine

log = logging.getLogger(__name__)

ENGINE = "openai-whisper"


def checkpoint_for(ref: ModelRef, cache_dir: Path) -> Path:
    """Return a `.pt` checkpoint for a resolved model, converting a CTranslate2 folder once."""
    if ref.kind == "openai_checkpoint":
        return ref.path
    if ref.kind != "ct2_dir":
        raise ModelError(f"{ref.location} is not a local model")
    from transcription.convert import convert

    folder = ref.path
    target = cache_dir / f"{folder.name}.openai.pt"
    source = folder / "model.bin"
    if not target.is_file() or target.stat().st_mtime < source.stat().st_mtime:
        log.info("converting %s for openai-whisper into %s", folder, target)
        convert(folder, target)
    return target


class OpenAIWhisperTranscriber:
    """openai-whisper on CPU (float32) or CUDA (float16); loads on first use."""

    def __init__(self, options: EngineOptions) -> None:
        self.options = options
        self._model: Any = None
        self._label = options.model
        self._lock = threading.Lock()
        self.load_s: float | None = None
        self.device = ""

    @property
    def engine(self) -> str:
        return ENGINE

    @property
    def model_label(self) -> str:
        return self._label

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            started = time.perf_counter()
            try:
                import torch
                import whisper
                from whisper.model import ModelDimensions, Whisper
            except ImportError as exc:
                raise EngineUnavailable(
                    "the openai-whisper engine is not installed "
                    "(pip install 'hotline[openai-whisper]', CPU torch first)"
                ) from exc
            if self.options.cpu_threads:
                torch.set_num_threads(self.options.cpu_threads)
            device = self.options.device
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            self.device = device
            ref = resolve_model(self.options.model, self.options.cache_dir)
            try:
                if ref.kind == "download":
                    model = whisper.load_model(
                        ref.location,
                        device=device,
                        download_root=str(self.options.cache_dir / "openai"),
                    )
                else:
                    path = checkpoint_for(ref, self.options.cache_dir)
                    checkpoint = torch.load(path, map_location=device, weights_only=True)
                    model = Whisper(ModelDimensions(**checkpoint["dims"]))
                    model.load_state_dict(checkpoint["model_state_dict"])
                    heads = checkpoint.get("alignment_heads") or []
                    if heads:
                        mask = torch.zeros(
                            model.dims.n_text_layer, model.dims.n_text_head, dtype=torch.bool
                        )
                        for layer, head in heads:
                            mask[layer, head] = True
                        model.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)
                    model = model.to(device)
            except (OSError, RuntimeError, KeyError) as exc:
                raise ModelError(f"could not load {ref.location}: {exc}") from exc
            model.eval()
            self._model = model
            self._label = ref.label
            self.load_s = time.perf_counter() - started
            log.info("loaded %s for openai-whisper on %s in %.1f s", ref.label, device, self.load_s)

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
        kwargs: dict[str, Any] = {
            "language": language,
            "task": "transcribe",
            "temperature": d.temperatures,
            "compression_ratio_threshold": d.compression_ratio_threshold,
            "logprob_threshold": d.log_prob_threshold,
            "no_speech_threshold": d.no_speech_threshold,
            "condition_on_previous_text": d.condition_on_previous_text,
            "initial_prompt": d.initial_prompt,
            "fp16": self.device == "cuda",
            "verbose": None,
        }
        cap = d.token_cap(audio.duration_s)
        if cap is not None:
            kwargs["sample_len"] = cap
        # openai-whisper decodes greedily when beam_size is None; 1 means the same thing.
        if d.beam_size > 1:
            kwargs["beam_size"] = d.beam_size
            kwargs["best_of"] = 5
        import torch

        with torch.inference_mode():
            out = self._model.transcribe(audio.samples, **kwargs)
        segments = [
            Segment(
                start=float(s["start"]),
                end=float(s["end"]),
                text=str(s["text"]).strip(),
                avg_logprob=float(s["avg_logprob"]),
                no_speech_prob=float(s["no_speech_prob"]),
                compression_ratio=float(s["compression_ratio"]),
            )
            for s in out["segments"]
        ]
        return segments
