"""Routing rules: which topic a transcript points to, and which area it names.

Pure functions over small rule objects, so the rules are testable without a database. The
keypad decides the department; the transcript decides only when the caller chose "anything
else" or pressed nothing, and otherwise may add a *suggestion* that officers see. Evidence is
the topics' keyword phrases (data), matched on folded words with the longest phrase winning,
weighted by the phrase's length (a three-word phrase is more specific than "đất").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from tickets.text import Match, Token, find_phrases, longest_matches, tokenize

# A phrase of three or more words counts 3; a phrase whose diacritics disagree with the
# transcript ("thuê" heard where the keyword says "thuế") counts half.
_MAX_PHRASE_WEIGHT = 3
_CONFLICT_FACTOR = 0.5
# Transcript routing needs at least one clean one-word match.
ROUTE_MIN_SCORE = 1.0
# A suggestion against the keypad needs clear evidence: two words' worth, at least twice the
# keypad topic's own score, and another department (topics of one department need no move).
SUGGEST_MIN_SCORE = 2.0
SUGGEST_RATIO = 2.0

# Phrases every caller says that contain a keyword of some topic ("điện" = electricity, in
# "số điện thoại" = phone number). They are matched like keywords, so that the longest-match
# rule swallows the keyword inside them, and then score for nobody.
NEUTRAL_PHRASES = (
    "điện thoại",
    "số điện thoại",
    "gọi điện",
    "gọi lại",
    "đường dây nóng",
)

# Callers name the province all the time ("tỉnh Bắc Ninh", "Hải quan Bắc Ninh"); only a
# qualified form ("thành phố Bắc Ninh", an alias) names the former city of the same name.
PROVINCE_NAMES = frozenset({"bac ninh", "bac giang"})


@dataclass(frozen=True)
class TopicRule:
    id: int
    code: str
    name: str
    department_id: int
    keywords: tuple[str, ...]
    is_fallback: bool = False
    sort_order: int = 0


@dataclass(frozen=True)
class AreaRule:
    id: int
    code: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class TopicScore:
    topic: TopicRule
    score: float
    matched: tuple[str, ...]  # the keywords heard, in the order they were said


@dataclass(frozen=True)
class Evidence:
    """What a transcript says about topics, best first."""

    scores: tuple[TopicScore, ...] = ()

    @property
    def best(self) -> TopicScore | None:
        return self.scores[0] if self.scores else None

    def score_of(self, topic_id: int | None) -> float:
        return next((s.score for s in self.scores if s.topic.id == topic_id), 0.0)

    def clear_winner(self) -> TopicScore | None:
        """Return the best topic if it is good enough and no other department ties with it."""
        best = self.best
        if best is None or best.score < ROUTE_MIN_SCORE:
            return None
        for other in self.scores[1:]:
            if other.score < best.score:
                break
            if other.topic.department_id != best.topic.department_id:
                return None
        return best


def _weight(match: Match) -> float:
    return min(match.length, _MAX_PHRASE_WEIGHT) * (1.0 if match.exact else _CONFLICT_FACTOR)


def score_topics(text: str, topics: Sequence[TopicRule]) -> Evidence:
    """Return how strongly `text` points to each topic (topics with no match are left out)."""
    tokens = tokenize(text)
    if not tokens:
        return Evidence()
    owners: dict[str, list[TopicRule]] = {}
    for topic in topics:
        for keyword in topic.keywords:
            owners.setdefault(keyword, []).append(topic)
    neutral = set(NEUTRAL_PHRASES)
    matches = longest_matches(find_phrases(tokens, [*owners, *neutral]))
    totals: dict[int, float] = {}
    heard: dict[int, list[str]] = {}
    by_id = {t.id: t for t in topics}
    for match in matches:
        if match.key in neutral and match.key not in owners:
            continue
        for topic in owners.get(match.key, ()):
            totals[topic.id] = totals.get(topic.id, 0.0) + _weight(match)
            if match.key not in heard.setdefault(topic.id, []):
                heard[topic.id].append(match.key)
    ranked = sorted(totals, key=lambda tid: (-totals[tid], by_id[tid].sort_order, tid))
    return Evidence(tuple(TopicScore(by_id[tid], totals[tid], tuple(heard[tid])) for tid in ranked))


@dataclass(frozen=True)
class Decision:
    """Where a ticket goes and why; `suggestion` is another topic the transcript points to."""

    topic: TopicRule | None
    reason: str
    by_transcript: bool = False
    suggestion: TopicScore | None = None
    evidence: Evidence = field(default_factory=Evidence)


def decide(
    keypad: TopicRule | None,
    text: str,
    topics: Sequence[TopicRule],
    *,
    digit_label: str = "",
) -> Decision:
    """Return the topic a ticket belongs to, from the keypad choice and the transcript."""
    evidence = score_topics(text, topics) if text.strip() else Evidence()
    fallback = next((t for t in topics if t.is_fallback), None)
    if keypad is not None and not keypad.is_fallback:
        reason = (
            f"bấm phím {digit_label}: {keypad.name}" if digit_label else f"chủ đề {keypad.name}"
        )
        best = evidence.best
        own = evidence.score_of(keypad.id)
        if (
            best is not None
            and best.topic.department_id != keypad.department_id
            and best.score >= SUGGEST_MIN_SCORE
            and best.score >= SUGGEST_RATIO * own
            and evidence.clear_winner() is best
        ):
            return Decision(keypad, reason, suggestion=best, evidence=evidence)
        return Decision(keypad, reason, evidence=evidence)

    if keypad is None:
        chose = "không bấm phím"
    elif digit_label:
        chose = f"bấm phím {digit_label}: {keypad.name}"
    else:
        chose = f"chủ đề {keypad.name}"
    winner = evidence.clear_winner()
    if winner is not None:
        words = ", ".join(winner.matched)
        return Decision(
            winner.topic,
            f"{chose}; theo nội dung: {words}",
            by_transcript=True,
            evidence=evidence,
        )
    if evidence.best is not None:
        why = "nội dung chưa rõ chủ đề"
    elif text.strip():
        why = "nội dung không có từ khóa"
    else:
        why = "không có nội dung ghi âm"
    return Decision(keypad or fallback, f"{chose}; {why}", evidence=evidence)


@dataclass(frozen=True)
class AreaHit:
    area: AreaRule
    said: str  # the words as the transcript has them


def detect_area(text: str, areas: Sequence[AreaRule]) -> AreaHit | None:
    """Return the first area the transcript names (an exact spelling beats a tone mismatch)."""
    tokens = tokenize(text)
    if not tokens:
        return None
    names: dict[str, tuple[AreaRule, bool]] = {}  # phrase -> (area, is the bare name)
    for area in areas:
        for alias in area.aliases:
            names.setdefault(alias, (area, False))
        names.setdefault(area.name, (area, True))
    hits: list[tuple[Match, AreaRule]] = []
    for match in longest_matches(find_phrases(tokens, names)):
        area, bare = names[match.key]
        if bare and _folded(tokens, match) in PROVINCE_NAMES:
            continue
        hits.append((match, area))
    if not hits:
        return None
    match, area = min(hits, key=lambda h: (not h[0].exact, h[0].start))
    return AreaHit(area, _said(text, tokens, match))


def _folded(tokens: Sequence[Token], match: Match) -> str:
    return " ".join(t.folded for t in tokens[match.start : match.end])


def _said(text: str, tokens: Sequence[Token], match: Match) -> str:
    nfc = unicodedata.normalize("NFC", text)
    return nfc[tokens[match.start].start : tokens[match.end - 1].end]
