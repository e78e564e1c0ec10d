"""Guards against Whisper's failures on phone audio: hallucinated outros, loops, silence."""

from __future__ import annotations

import numpy as np

from storage.models import Confidence
from transcription.audio import DecodedAudio
from transcription.guards import (
    apply_guards,
    collapse_loops,
    grade,
    is_silent,
    remove_hallucinations,
)
from transcription.protocol import Segment


def seg(
    text: str,
    start: float = 0.0,
    end: float = 2.0,
    logprob: float = -0.3,
    no_speech: float = 0.05,
    **kw: float,
) -> Segment:
    return Segment(start, end, text, logprob, no_speech, **kw)


def test_youtube_outro_is_removed_but_the_callers_words_stay() -> None:
    text, removed = remove_hallucinations(
        "Tôi cần hỏi về thuế. Hãy subscribe cho kênh Ghiền Mì Gõ để không bỏ lỡ những "
        "video hấp dẫn.",
        "vi",
    )
    assert text == "Tôi cần hỏi về thuế."
    assert removed.startswith("hãy subscribe")


def test_english_outro_is_removed_from_vietnamese_transcripts_too() -> None:
    text, removed = remove_hallucinations("Thank you for watching!", "vi")
    assert (text, removed) == ("", "thank you for watching")


def test_a_plain_thank_you_from_a_caller_is_kept() -> None:
    text, removed = remove_hallucinations("Xin cảm ơn anh chị.", "vi")
    assert (text, removed) == ("Xin cảm ơn anh chị.", "")


def test_a_segment_that_is_only_an_outro_leaves_no_speech() -> None:
    guarded = apply_guards([seg("Cảm ơn các bạn đã theo dõi và hẹn gặp lại.")], "vi")
    # Only "và hẹn gặp lại" remains: real words, so the segment stays, without the outro.
    assert "theo dõi" not in guarded.text
    guarded = apply_guards([seg("Cảm ơn các bạn đã theo dõi!")], "vi")
    assert guarded.no_speech and guarded.text == "" and guarded.confidence is Confidence.NO_SPEECH


def test_repetition_loop_collapses_to_one_occurrence() -> None:
    looped = "Đi my mom " + " ".join(["tìm"] * 40)
    text, changed = collapse_loops(looped)
    assert changed and text == "Đi my mom tìm"
    text, changed = collapse_loops("xin hỏi " + "thủ tục đăng ký " * 5 + "kinh doanh")
    assert changed and text == "xin hỏi thủ tục đăng ký kinh doanh"


def test_digits_of_a_phone_number_are_not_a_loop() -> None:
    number = "số của tôi là không chín một hai ba ba ba bốn năm sáu"
    assert collapse_loops(number) == (number, False)
    assert collapse_loops("alo alo") == ("alo alo", False)


def test_looped_segment_is_flagged_low_confidence() -> None:
    guarded = apply_guards([seg("tôi muốn " + "hỏi " * 10, logprob=-0.2)], "vi")
    assert guarded.text == "tôi muốn hỏi"
    assert guarded.segments[0].low_confidence
    assert any("repetition" in n for n in guarded.notes)


def test_the_same_segment_three_times_is_a_loop_twice_is_a_caller() -> None:
    twice = apply_guards([seg("số không chín", 0, 2), seg("số không chín", 2, 4)], "vi")
    assert len(twice.segments) == 2
    thrice = apply_guards([seg("cảm ơn", 0, 2), seg("cảm ơn", 2, 4), seg("cảm ơn", 4, 6)], "vi")
    assert len(thrice.segments) == 1 and thrice.segments[0].end == 6


def test_text_written_over_silence_is_dropped() -> None:
    # VAD heard speech from 0.5 s to 3 s; Whisper also wrote an outro-like line at 20-24 s.
    speech = [(0.5, 3.0)]
    guarded = apply_guards(
        [seg("Tôi hỏi về thuế", 0.0, 3.2), seg("Hẹn gặp lại", 20.0, 24.0, logprob=-0.2)],
        "vi",
        speech,
    )
    assert guarded.text == "Tôi hỏi về thuế"
    assert any("over silence" in n for n in guarded.notes)
    nothing = apply_guards([seg("Hẹn gặp lại", 0.0, 2.0)], "vi", [])
    assert nothing.no_speech and nothing.text == ""


def test_without_speech_regions_only_whisper_sure_silence_is_dropped() -> None:
    silent = apply_guards([seg("ừ", logprob=-1.4, no_speech=0.95)], "vi")
    assert silent.no_speech
    # Base gives real phone speech no-speech probabilities up to 0.85: that is kept.
    kept = apply_guards([seg("Từ kết quả nghiên cứu này", logprob=-1.05, no_speech=0.85)], "vi")
    assert kept.text == "Từ kết quả nghiên cứu này"


def test_confidence_grades_follow_log_probability() -> None:
    assert grade([seg("a", logprob=-0.2)]) is Confidence.HIGH
    assert grade([seg("a", logprob=-0.5)]) is Confidence.MEDIUM
    assert grade([seg("a", logprob=-1.2)]) is Confidence.LOW
    # A long weak segment outweighs a short sure one.
    mixed = [seg("a", 0, 1, logprob=-0.1), seg("b", 1, 9, logprob=-1.3, low_confidence=True)]
    assert grade(mixed) is Confidence.LOW


def test_weak_segments_are_flagged_for_the_officer() -> None:
    guarded = apply_guards([seg("chắc chắn", logprob=-0.2), seg("không rõ", logprob=-1.4)], "vi")
    assert [s.low_confidence for s in guarded.segments] == [False, True]


def test_silence_detection_uses_the_peak_level() -> None:
    quiet = DecodedAudio(np.full(16000, 0.001, dtype=np.float32), 8000, "pcm_mulaw")
    voice = DecodedAudio(np.full(16000, 0.2, dtype=np.float32), 8000, "pcm_mulaw")
    assert is_silent(quiet) and not is_silent(voice)
