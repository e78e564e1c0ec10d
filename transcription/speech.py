"""Is anyone talking? Speech regions found by Silero VAD, used to judge, never to cut.

Whisper's own silence rule (no-speech probability > 0.6 and mean log-prob < -1) is unreliable
on band-limited Vietnamese phone audio with the base model: it dropped the real speech of 2 of
the 24 shared phone clips (no-speech probability 0.68 and 0.85), while on line noise base
happily writes text. Silero VAD (shipped inside faster-whisper, run by onnxruntime) found speech
in 77-100 % of every phone clip and none at all in hiss, hum, a dial tone or a 440 Hz tone,
for about 0.02 s of CPU per second of audio. So the engines ask it two questions: is there any
speech in the recording (if not: an explicit "no speech" result, Whisper is not even run), and
does a segment Whisper wrote overlap any speech (if not: text invented over silence, dropped).

VAD is *not* used to cut the audio before Whisper: that cost accuracy on phone speech
(ARCHITECTURE.md §5: WER 0.75 -> 0.86).
"""

from __future__ import annotations

from collections.abc import Sequence

from transcription.audio import DecodedAudio
from transcription.errors import EngineUnavailable

Region = tuple[float, float]

# Lenient: the question is "any speech at all", and missing a quiet caller is the worse error.
VAD_THRESHOLD = 0.35
MIN_SPEECH_MS = 200
# Less speech than this in a whole recording is a breath or a click, not a message.
MIN_SPEECH_S = 0.3


def find_speech(audio: DecodedAudio) -> tuple[Region, ...]:
    """Return the (start, end) seconds of speech in the audio."""
    try:
        from faster_whisper.vad import VadOptions, get_speech_timestamps
    except ImportError as exc:  # pragma: no cover - faster-whisper is a core dependency
        raise EngineUnavailable("speech detection needs faster-whisper") from exc
    options = VadOptions(threshold=VAD_THRESHOLD, min_speech_duration_ms=MIN_SPEECH_MS)
    stamps = get_speech_timestamps(audio.samples, options, sampling_rate=audio.sample_rate)
    rate = float(audio.sample_rate)
    return tuple((s["start"] / rate, s["end"] / rate) for s in stamps)


def speech_seconds(regions: Sequence[Region]) -> float:
    """Return the total length of the regions."""
    return sum(max(0.0, end - start) for start, end in regions)


def overlap(start: float, end: float, regions: Sequence[Region]) -> float:
    """Return how many seconds of [start, end] fall inside the regions."""
    return sum(max(0.0, min(end, e) - max(start, s)) for s, e in regions)
