"""Normalisation and error rates, the measures the bench and the model tests rely on."""

from __future__ import annotations

import unicodedata

import pytest

from transcription.text import cer, corpus_rates, edit_distance, normalize, wer, words


def test_normalize_folds_case_punctuation_spacing_and_unicode_form() -> None:
    decomposed = unicodedata.normalize("NFD", "Thuế")
    assert decomposed != "Thuế"  # the same letters, different code points
    assert normalize(f"  {decomposed}, HẢI-QUAN!  đất   đai… ") == "thuế hải quan đất đai"


def test_normalize_keeps_vietnamese_letters_and_digits() -> None:
    assert words("Số 0912 345 678, phường Đông Ngàn") == [
        "số",
        "0912",
        "345",
        "678",
        "phường",
        "đông",
        "ngàn",
    ]


@pytest.mark.parametrize(
    ("ref", "hyp", "distance"),
    [("abc", "abc", 0), ("abc", "", 3), ("", "ab", 2), ("kitten", "sitting", 3)],
)
def test_edit_distance(ref: str, hyp: str, distance: int) -> None:
    assert edit_distance(list(ref), list(hyp)) == distance


def test_wer_counts_substitutions_insertions_and_deletions() -> None:
    ref = "tôi muốn hỏi về thuế"
    assert wer(ref, "Tôi muốn hỏi về thuế.") == 0.0
    assert wer(ref, "tôi muốn hỏi thuế") == pytest.approx(1 / 5)  # one deletion
    assert wer(ref, "tôi muốn hỏi về thuê") == pytest.approx(1 / 5)  # a tone is a new word
    assert wer(ref, "") == 1.0


def test_cer_counts_characters_including_spaces() -> None:
    assert cer("thuế", "thue") == pytest.approx(1 / 4)
    assert cer("ab cd", "abcd") == pytest.approx(1 / 5)


def test_corpus_rates_weight_by_reference_length() -> None:
    # One long perfect clip and one short wrong one: the corpus rate is not the mean of rates.
    pairs = [
        ("một hai ba bốn năm sáu bảy tám chín", "một hai ba bốn năm sáu bảy tám chín"),
        ("mười", "mươi"),
    ]
    word_rate, _ = corpus_rates(pairs)
    assert word_rate == pytest.approx(1 / 10)
