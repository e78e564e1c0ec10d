"""What every engine returns, and the `Transcriber` protocol the worker and the CLI call."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from storage.models import Confidence
from transcription.audio import DecodedAudio


@dataclass(frozen=True)
class Segment:
    """A timed piece of the transcript; times in seconds from the start of the recording."""

    start: float
    end: float
    text: str
    # Mean log-probability of the segment's tokens (0 is certain; below -1 is poor).
    avg_logprob: float
    # Whisper's probability that the window holds no speech at all.
    no_speech_prob: float
    # gzip ratio of the text: high values mean repeated text (a decoding loop).
    compression_ratio: float = 1.0
    # Shown to officers as "check against the audio".
    low_confidence: bool = False

    def to_json(self) -> dict[str, Any]:
        """Return the segment as stored in `Transcript.segments`."""
        return {
            "start": round(self.start, 2),
            "end": round(self.end, 2),
            "text": self.text,
            "avg_logprob": round(self.avg_logprob, 4),
            "no_speech_prob": round(self.no_speech_prob, 4),
            "low": self.low_confidence,
        }


@dataclass(frozen=True)
class TranscriptResult:
    """A finished transcription of one recording."""

    text: str
    language: str
    segments: tuple[Segment, ...]
    duration_s: float
    processing_s: float
    engine: str
    model: str
    confidence: Confidence
    no_speech: bool = False
    # What the guards changed (dropped hallucinations, collapsed loops), for logs and the bench.
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        """Return the result as the CLI's --json prints it."""
        data = asdict(self)
        data["segments"] = [s.to_json() for s in self.segments]
        data["confidence"] = self.confidence.value
        data["notes"] = list(self.notes)
        return data


class Transcriber(Protocol):
    """Turns decoded audio into a transcript. Implementations load their model lazily."""

    @property
    def engine(self) -> str:
        """Return the engine's name, e.g. "faster-whisper"."""
        ...

    @property
    def model_label(self) -> str:
        """Return what to store as `Transcript.model`."""
        ...

    def load(self) -> None:
        """Load the model now (idempotent); a worker calls it before its first job."""
        ...

    def transcribe(self, audio: DecodedAudio, *, language: str = "vi") -> TranscriptResult:
        """Return the transcript of `audio` spoken in `language` ("vi" or "en")."""
        ...
