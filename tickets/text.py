"""Vietnamese words for matching: tokens, folding, and tone-aware phrase search.

Keyword routing, area detection and spoken-number extraction all match phrases against a
transcript. Officers and some callers write without diacritics ("hoan thue"), so matching
happens on folded words (case and diacritics removed, đ -> d). Folding alone confuses real
words, though: "thuế" (tax) and "thuê" (rent) both fold to "thue". So a match also says whether
the diacritics agree: when both sides carry marks and they differ, the match is a *conflict*
and counts for less. Tone marks are compared per syllable after taking them off the vowel,
because "hoá" and "hóa" are the same word written in the old and the new placement.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from storage.search import fold

# The five Vietnamese tone marks as combining characters (grave, acute, tilde, hook, dot below).
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
_WORD = re.compile(r"\w+", re.UNICODE)

__all__ = ["Match", "Token", "find_phrases", "fold", "longest_matches", "tokenize"]


@dataclass(frozen=True)
class Token:
    """One word of a text: as written (NFC, lower case) and folded."""

    text: str
    folded: str
    start: int  # character offsets in the NFC text, for showing what matched
    end: int

    @property
    def has_marks(self) -> bool:
        return self.text != self.folded

    @property
    def syllable(self) -> tuple[str, str]:
        """Return (letters with vowel marks, tone mark), independent of where the tone sits."""
        decomposed = unicodedata.normalize("NFD", self.text)
        tones = "".join(ch for ch in decomposed if ch in _TONE_MARKS)
        letters = "".join(ch for ch in decomposed if ch not in _TONE_MARKS)
        return unicodedata.normalize("NFC", letters), tones


def tokenize(text: str) -> list[Token]:
    """Split `text` into lower-case words (letters and digits), keeping their positions."""
    nfc = unicodedata.normalize("NFC", text).lower()
    tokens = []
    for m in _WORD.finditer(nfc):
        word = m.group(0).replace("_", "")
        if word:
            tokens.append(Token(word, fold(word), m.start(), m.end()))
    return tokens


def agree(a: Token, b: Token) -> bool:
    """Say whether two words with the same folded form are written compatibly.

    A word without any diacritics agrees with every accented form (it was typed plainly);
    two accented words must be the same syllable with the same tone.
    """
    if not a.has_marks or not b.has_marks:
        return True
    return a.syllable == b.syllable


@dataclass(frozen=True)
class Match:
    """A phrase found in a token list: tokens[start:end] match phrase `key`."""

    key: str
    start: int
    end: int
    exact: bool  # False: folded forms match but the diacritics disagree somewhere

    @property
    def length(self) -> int:
        return self.end - self.start


PhraseIndex = dict[str, list[tuple[str, list[Token]]]]


@lru_cache(maxsize=32)
def _phrase_index(phrases: tuple[str, ...]) -> PhraseIndex:
    # Every routing pass matches the same keyword lists; tokenizing them was a third of the
    # time of routing a ticket, so the index is built once per distinct list.
    by_first: PhraseIndex = {}
    for phrase in phrases:
        words = tokenize(phrase)
        if words:
            by_first.setdefault(words[0].folded, []).append((phrase, words))
    return by_first


def find_phrases(tokens: Sequence[Token], phrases: Iterable[str]) -> list[Match]:
    """Return every occurrence of every phrase (folded comparison), overlaps included."""
    by_first = _phrase_index(tuple(phrases))
    found: list[Match] = []
    for i, token in enumerate(tokens):
        for phrase, words in by_first.get(token.folded, ()):
            end = i + len(words)
            if end > len(tokens):
                continue
            window = tokens[i:end]
            if all(t.folded == w.folded for t, w in zip(window, words, strict=True)):
                exact = all(agree(t, w) for t, w in zip(window, words, strict=True))
                found.append(Match(phrase, i, end, exact))
    return found


def longest_matches(matches: Iterable[Match]) -> list[Match]:
    """Keep non-overlapping matches, preferring longer, then diacritics-exact, then earlier ones.

    "thuê đất" (land lease) must win over the "thuế" (tax) hidden in its folded form, and a
    generic word inside a longer phrase ("điện" in "số điện thoại") must not count on its own.
    """
    chosen: list[Match] = []
    taken: set[int] = set()
    for m in sorted(matches, key=lambda m: (-m.length, not m.exact, m.start)):
        span = set(range(m.start, m.end))
        if span & taken:
            continue
        chosen.append(m)
        taken |= span
    return sorted(chosen, key=lambda m: m.start)
