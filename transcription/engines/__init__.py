"""Transcription engines behind the `Transcriber` protocol, chosen by name.

Engine modules import their heavy libraries (ctranslate2, torch) only when a model loads, so
importing this package is cheap and safe in a web process.
"""

from __future__ import annotations

from transcription.errors import EngineUnavailable
from transcription.options import EngineOptions
from transcription.protocol import Transcriber

ENGINES = ("faster-whisper", "openai-whisper", "fake")


def make_transcriber(options: EngineOptions) -> Transcriber:
    """Return an unloaded transcriber for `options.engine`."""
    name = options.engine.strip().lower()
    if name in ("faster-whisper", "faster_whisper", "faster"):
        from transcription.engines.faster import FasterWhisperTranscriber

        return FasterWhisperTranscriber(options)
    if name in ("openai-whisper", "openai_whisper", "openai", "whisper"):
        from transcription.engines.openai_engine import OpenAIWhisperTranscriber

        return OpenAIWhisperTranscriber(options)
    if name == "fake":
        from transcription.fakes import FakeTranscriber

        return FakeTranscriber()
    raise EngineUnavailable(
        f"unknown transcription engine {options.engine!r}; choose one of {', '.join(ENGINES)}",
        code="engine_unknown",
    )
