"""Text normalisation and error rates for Vietnamese transcripts.

Scoring follows the shared clips' rule: case, punctuation and spacing are normalised on both
sides before counting. Unicode is put in NFC first, because Whisper and people type Vietnamese
in both composed and decomposed forms, which look the same but compare unequal.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Letters (any script, tone marks included after NFC) and digits survive; everything else is
# punctuation or a symbol and becomes a space.
_NON_WORD = re.compile(r"[^\w]|_", re.UNICODE)
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Return `text` in NFC, lower case, without punctuation, single-spaced."""
    text = unicodedata.normalize("NFC", text).lower()
    text = _NON_WORD.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def words(text: str) -> list[str]:
    """Return the normalised words of `text`."""
    norm = normalize(text)
    return norm.split(" ") if norm else []


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Return the Levenshtein distance between two sequences (substitution costs 1)."""
    if len(ref) < len(hyp):
        ref, hyp = hyp, ref
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i]
        for j, h in enumerate(hyp, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class ErrorCount:
    """Edits and reference length, summed over clips before dividing (corpus-level rates)."""

    edits: int
    length: int

    @property
    def rate(self) -> float:
        if self.length == 0:
            return 0.0 if self.edits == 0 else 1.0
        return self.edits / self.length

    def __add__(self, other: ErrorCount) -> ErrorCount:
        return ErrorCount(self.edits + other.edits, self.length + other.length)


def word_errors(reference: str, hypothesis: str) -> ErrorCount:
    """Return word edits against the reference's word count."""
    ref = words(reference)
    return ErrorCount(edit_distance(ref, words(hypothesis)), len(ref))


def char_errors(reference: str, hypothesis: str) -> ErrorCount:
    """Return character edits (spaces included) against the reference's length."""
    ref = normalize(reference)
    return ErrorCount(edit_distance(list(ref), list(normalize(hypothesis))), len(ref))


def wer(reference: str, hypothesis: str) -> float:
    """Return the word error rate of one hypothesis."""
    return word_errors(reference, hypothesis).rate


def cer(reference: str, hypothesis: str) -> float:
    """Return the character error rate of one hypothesis."""
    return char_errors(reference, hypothesis).rate


def corpus_rates(pairs: Iterable[tuple[str, str]]) -> tuple[float, float]:
    """Return (WER, CER) over many (reference, hypothesis) pairs, weighted by length."""
    w = ErrorCount(0, 0)
    c = ErrorCount(0, 0)
    for reference, hypothesis in pairs:
        w = w + word_errors(reference, hypothesis)
        c = c + char_errors(reference, hypothesis)
    return w.rate, c.rate
