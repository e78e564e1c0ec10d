"""Results every engine builds the same way."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from storage.models import Confidence
from transcription.audio import DecodedAudio
from transcription.guards import apply_guards, is_silent
from transcription.protocol import Segment, TranscriptResult
from transcription.speech import MIN_SPEECH_S, Region, find_speech, speech_seconds


@dataclass(frozen=True)
class SpeechCheck:
    """Where speech was heard (None: not checked), or why there is none."""

    regions: tuple[Region, ...] | None
    absent: str = ""


def check_speech(audio: DecodedAudio, *, enabled: bool) -> SpeechCheck:
    """Decide before running Whisper whether the recording holds any speech."""
    if is_silent(audio):
        return SpeechCheck((), "audio below silence level")
    if not enabled:
        return SpeechCheck(None)
    regions = find_speech(audio)
    if speech_seconds(regions) < MIN_SPEECH_S:
        return SpeechCheck(regions, "no speech detected")
    return SpeechCheck(regions)


def no_speech_result(
    audio: DecodedAudio,
    *,
    language: str,
    engine: str,
    model: str,
    processing_s: float,
    note: str,
) -> TranscriptResult:
    """Return the explicit "no speech" result (empty text, never invented words)."""
    return TranscriptResult(
        text="",
        language=language,
        segments=(),
        duration_s=audio.duration_s,
        processing_s=processing_s,
        engine=engine,
        model=model,
        confidence=Confidence.NO_SPEECH,
        no_speech=True,
        notes=(note,),
    )


def run_engine(
    audio: DecodedAudio,
    *,
    language: str,
    engine: str,
    model: str,
    speech_check: bool,
    decode: Callable[[], Sequence[Segment]],
) -> TranscriptResult:
    """The steps every engine shares: the speech check, its own `decode`, then the guards."""
    started = time.perf_counter()
    speech = check_speech(audio, enabled=speech_check)
    if speech.absent:
        return no_speech_result(
            audio,
            language=language,
            engine=engine,
            model=model,
            processing_s=time.perf_counter() - started,
            note=speech.absent,
        )
    guarded = apply_guards(list(decode()), language, speech.regions)
    return TranscriptResult(
        text=guarded.text,
        language=language,
        segments=guarded.segments,
        duration_s=audio.duration_s,
        processing_s=time.perf_counter() - started,
        engine=engine,
        model=model,
        confidence=guarded.confidence,
        no_speech=guarded.no_speech,
        notes=guarded.notes,
    )
