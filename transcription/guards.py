"""Guards against Whisper's known failures on phone audio, shared by every engine.

Whisper was trained on subtitled video: on silence, line noise or hold music it tends to write
a YouTube outro ("Hãy subscribe cho kênh ...", "Thank you for watching"), and on unclear audio
it can loop on one phrase. An officer must never read such text as the caller's words. The
guards run on the engine's raw segments and say what they changed, and the confidence flag
tells the officer how far to trust what is left.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from storage.models import Confidence
from transcription.audio import DecodedAudio
from transcription.protocol import Segment
from transcription.speech import Region, overlap
from transcription.text import normalize

# Peak below about -50 dBFS: digital silence or a line with nobody on it. Whisper is not run
# on it at all (it would invent text); a real voice on a phone line peaks far above this.
SILENCE_PEAK = 0.003

# A segment must overlap the speech that VAD found (see speech.py) by this share of its length,
# or by MIN_OVERLAP_S, or it is text written over silence. Whisper's timestamps are rough, so
# the bar is low: a hallucination over a silent tail overlaps nothing.
MIN_OVERLAP_SHARE = 0.2
MIN_OVERLAP_S = 0.1
# Without speech regions (the check turned off) only windows Whisper itself is sure are silent
# and whose text is unsure are dropped: its own rule, stricter on the probability, because on
# phone audio base gives real speech no-speech probabilities up to 0.85.
NO_SPEECH_DROP = 0.9
NO_SPEECH_DROP_LOGPROB = -1.0

# A segment is shown as "check against the audio" below these.
LOW_SEGMENT_LOGPROB = -1.0
LOW_SEGMENT_NO_SPEECH = 0.5
HIGH_COMPRESSION = 2.4

# Calibrated on the 24 shared phone clips with base (bench/transcribe.py --calibrate): the
# transcripts whose duration-weighted mean log-prob was -0.6 or better had character error
# rates of 0.02-0.32 (mean 0.18); all the others 0.14-0.86 (mean 0.6). HIGH is for larger
# models, which reach it on clear speech; base on Vietnamese phone audio never did.
CONFIDENCE_HIGH = -0.3
CONFIDENCE_MEDIUM = -0.6

# Phrases Whisper writes on silence and noise, learnt from video subtitles. Only whole,
# distinctive phrases: a caller may well say "xin cảm ơn", so that alone is never removed.
HALLUCINATIONS: dict[str, tuple[str, ...]] = {
    "vi": (
        "hãy subscribe cho kênh ghiền mì gõ để không bỏ lỡ những video hấp dẫn",
        "hãy subscribe cho kênh",
        "hãy đăng ký kênh",
        "đăng ký kênh để",
        "đừng quên đăng ký kênh",
        "nhớ like và đăng ký kênh",
        "like share và subscribe",
        "ghiền mì gõ",
        "để không bỏ lỡ những video hấp dẫn",
        "cảm ơn các bạn đã theo dõi",
        "cảm ơn các bạn đã xem video",
        "cảm ơn các bạn đã lắng nghe",
        "hẹn gặp lại các bạn trong những video tiếp theo",
        "hẹn gặp lại các bạn trong video tiếp theo",
        "chúc các bạn xem video vui vẻ",
        "phụ đề được thực hiện bởi",
        "phụ đề bởi cộng đồng amara org",
        "vietsub by",
        "subscribe for more",
    ),
    "en": (
        "thank you for watching",
        "thanks for watching",
        "please subscribe to my channel",
        "please subscribe",
        "like and subscribe",
        "don't forget to subscribe",
        "see you in the next video",
        "subtitles by the amara org community",
        "transcription by castingwords",
    ),
}

# A run of one n-gram repeated at least this many times, covering at least LOOP_MIN_WORDS
# words, is a decoding loop. Phone numbers read digit by digit repeat a word two or three
# times ("ba ba ba"), so single words need a longer run before they count.
LOOP_MIN_REPEATS = 3
LOOP_MIN_WORDS = 6
LOOP_MAX_NGRAM = 10
# Three identical segments in a row is a loop across windows; two may be a caller repeating
# their number on purpose.
SEGMENT_LOOP_REPEATS = 3


@dataclass(frozen=True)
class Guarded:
    """Segments after the guards, the verdict, and what was changed."""

    segments: tuple[Segment, ...]
    text: str
    confidence: Confidence
    no_speech: bool
    notes: tuple[str, ...]


def is_silent(audio: DecodedAudio) -> bool:
    """Say whether the audio is too quiet to hold speech (skip the model)."""
    return audio.peak < SILENCE_PEAK


def apply_guards(
    segments: Sequence[Segment], language: str, speech: Sequence[Region] | None = None
) -> Guarded:
    """Drop hallucinations and loops, flag weak segments, and grade the transcript.

    `speech` is where VAD heard speech; segments outside it are dropped (None: not checked).
    """
    notes: list[str] = []
    kept: list[Segment] = []
    for seg in segments:
        if _over_silence(seg, speech):
            notes.append(f"dropped text over silence at {seg.start:.1f}-{seg.end:.1f}s")
            continue
        text, removed = remove_hallucinations(seg.text, language)
        if removed:
            notes.append(f"removed hallucination {removed!r}")
        text, looped = collapse_loops(text)
        if looped:
            notes.append(f"collapsed repetition at {seg.start:.1f}s")
        if not normalize(text):
            continue
        low = (
            looped
            or seg.avg_logprob < LOW_SEGMENT_LOGPROB
            or seg.no_speech_prob > LOW_SEGMENT_NO_SPEECH
            or seg.compression_ratio > HIGH_COMPRESSION
        )
        kept.append(replace(seg, text=text.strip(), low_confidence=low or seg.low_confidence))
    kept, dropped = collapse_repeated_segments(kept)
    if dropped:
        notes.append(f"dropped {dropped} repeated segments")
    if not kept:
        return Guarded((), "", Confidence.NO_SPEECH, True, tuple(notes))
    text = join_segments(kept)
    return Guarded(tuple(kept), text, grade(kept), False, tuple(notes))


def _over_silence(seg: Segment, speech: Sequence[Region] | None) -> bool:
    if speech is None:
        return seg.no_speech_prob > NO_SPEECH_DROP and seg.avg_logprob < NO_SPEECH_DROP_LOGPROB
    needed = max(MIN_OVERLAP_S, MIN_OVERLAP_SHARE * (seg.end - seg.start))
    return overlap(seg.start, seg.end, speech) < needed


def join_segments(segments: Iterable[Segment]) -> str:
    """Join segment texts into the transcript's text."""
    return " ".join(s.text.strip() for s in segments if s.text.strip())


def grade(segments: Sequence[Segment]) -> Confidence:
    """Return the transcript's confidence from its segments' log-probabilities."""
    total = sum(max(s.end - s.start, 0.01) for s in segments)
    mean = sum(s.avg_logprob * max(s.end - s.start, 0.01) for s in segments) / total
    low_share = sum(max(s.end - s.start, 0.01) for s in segments if s.low_confidence) / total
    if mean >= CONFIDENCE_HIGH and low_share < 0.2:
        return Confidence.HIGH
    if mean >= CONFIDENCE_MEDIUM and low_share < 0.5:
        return Confidence.MEDIUM
    return Confidence.LOW


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    # Words of the phrase with any punctuation or spacing between them, matched case-blind.
    parts = [re.escape(w) for w in phrase.split()]
    return re.compile(r"(?<!\w)" + r"[\W_]+".join(parts) + r"(?!\w)[\s.,!?…:;\"'-]*", re.I)


_PATTERNS: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    lang: [(p, _phrase_pattern(p)) for p in sorted(phrases, key=len, reverse=True)]
    for lang, phrases in HALLUCINATIONS.items()
}


def remove_hallucinations(text: str, language: str) -> tuple[str, str]:
    """Return `text` without known stock phrases, and the first phrase removed ("" if none)."""
    removed = ""
    # English outros show up in Vietnamese transcripts too, so both lists always apply.
    for lang in (language, *(k for k in _PATTERNS if k != language)):
        for phrase, pattern in _PATTERNS.get(lang, []):
            new = pattern.sub(" ", text)
            if new != text:
                removed = removed or phrase
                text = new
    return re.sub(r"\s+", " ", text).strip(), removed


def collapse_loops(text: str) -> tuple[str, bool]:
    """Collapse a phrase repeated in a loop to one occurrence; say whether one was found."""
    tokens = text.split()
    changed = False
    n = 1
    while n <= min(LOOP_MAX_NGRAM, len(tokens) // LOOP_MIN_REPEATS):
        i = 0
        out: list[str] = []
        while i < len(tokens):
            gram = [normalize(t) for t in tokens[i : i + n]]
            repeats = 1
            while (
                i + (repeats + 1) * n <= len(tokens)
                and [normalize(t) for t in tokens[i + repeats * n : i + (repeats + 1) * n]] == gram
            ):
                repeats += 1
            if repeats >= LOOP_MIN_REPEATS and repeats * n >= LOOP_MIN_WORDS and any(gram):
                out.extend(tokens[i : i + n])
                i += repeats * n
                changed = True
            else:
                out.append(tokens[i])
                i += 1
        tokens = out
        n += 1
    return " ".join(tokens), changed


def collapse_repeated_segments(segments: Sequence[Segment]) -> tuple[list[Segment], int]:
    """Keep one of each run of SEGMENT_LOOP_REPEATS or more identical segments."""
    kept: list[Segment] = []
    dropped = 0
    i = 0
    while i < len(segments):
        j = i + 1
        key = normalize(segments[i].text)
        while j < len(segments) and normalize(segments[j].text) == key:
            j += 1
        if j - i >= SEGMENT_LOOP_REPEATS:
            first = segments[i]
            kept.append(replace(first, end=segments[j - 1].end, low_confidence=True))
            dropped += j - i - 1
        else:
            kept.extend(segments[i:j])
        i = j
    return kept, dropped
