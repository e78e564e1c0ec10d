"""The topic menu as a pure state machine: (state, keys pressed) -> next step.

No database, no Flask, no TwiML: the views feed it the call's stored state and the digits
Twilio reports, store the new state, and render the step. Being pure, the same function also
answers a replayed request (Twilio retries) without writing anything.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace

from storage.models import Language

REPEAT_KEY = "*"
ENGLISH_KEY = "9"
# Keys with a meaning of their own; a topic configured on one of them is left off the menu.
RESERVED_KEYS = frozenset({REPEAT_KEY, ENGLISH_KEY})


class Choice(enum.StrEnum):
    TOPIC = "topic"  # a topic key: take the message under that topic
    REPEAT = "repeat"  # "*": say the menu again, no try used
    ENGLISH = "english"  # "9": switch to English and say the menu again, no try used
    RETRY = "retry"  # a wrong key or silence: say so and repeat the menu
    FALLBACK = "fallback"  # tries used up: take the message under "anything else"


class Miss(enum.StrEnum):
    INVALID = "invalid"
    NO_INPUT = "no_input"


@dataclass(frozen=True)
class MenuState:
    # Wrong keys or silences so far; also the `attempt` number in the menu's action URL.
    tries: int = 0
    language: Language = Language.VI


@dataclass(frozen=True)
class Step:
    choice: Choice
    state: MenuState
    digit: str | None = None  # the topic key, for Choice.TOPIC
    miss: Miss | None = None  # why the try failed, for RETRY and FALLBACK


@dataclass(frozen=True)
class MenuOption:
    """One line of the menu: a key and what the caller hears for it."""

    digit: str
    name_vi: str
    name_en: str
    prompt_vi: str = ""
    prompt_en: str = ""


def _repeat(state: MenuState) -> Step:
    return Step(Choice.REPEAT, state)


def _english(state: MenuState) -> Step:
    return Step(Choice.ENGLISH, replace(state, language=Language.EN))


_SPECIAL_KEYS: dict[str, Callable[[MenuState], Step]] = {
    REPEAT_KEY: _repeat,
    ENGLISH_KEY: _english,
}


def next_step(
    state: MenuState, digits: str | None, *, topic_digits: Collection[str], max_tries: int
) -> Step:
    """Return what the menu does when the caller pressed `digits` (None or "": silence)."""
    key = (digits or "").strip()
    if not key:
        return _missed(state, Miss.NO_INPUT, max_tries)
    special = _SPECIAL_KEYS.get(key)
    if special is not None:
        return special(state)
    if key in topic_digits and key not in RESERVED_KEYS:
        return Step(Choice.TOPIC, state, digit=key)
    return _missed(state, Miss.INVALID, max_tries)


def _missed(state: MenuState, miss: Miss, max_tries: int) -> Step:
    after = replace(state, tries=state.tries + 1)
    if after.tries >= max_tries:
        return Step(Choice.FALLBACK, after, miss=miss)
    return Step(Choice.RETRY, after, miss=miss)


def menu_order(options: Collection[MenuOption]) -> list[MenuOption]:
    """Return the options in the order read out: 1 to 8, then 0 ("anything else") last."""
    return sorted(options, key=lambda o: (o.digit == "0", o.digit))
