"""The menu state machine (pure), and a fuzz of the menu webhook."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.menu import (
    Choice,
    MenuOption,
    MenuState,
    Miss,
    menu_order,
    next_step,
)
from storage.models import Language

TOPIC_DIGITS = frozenset("123450")


def step(state: MenuState, digits: str | None) -> tuple[Choice, MenuState]:
    result = next_step(state, digits, topic_digits=TOPIC_DIGITS, max_tries=3)
    return result.choice, result.state


def test_a_topic_key_chooses_the_topic() -> None:
    result = next_step(MenuState(), "2", topic_digits=TOPIC_DIGITS, max_tries=3)
    assert (result.choice, result.digit, result.state) == (Choice.TOPIC, "2", MenuState())


def test_star_repeats_and_nine_switches_language_without_a_try() -> None:
    assert step(MenuState(tries=2), "*") == (Choice.REPEAT, MenuState(tries=2))
    assert step(MenuState(tries=1), "9") == (
        Choice.ENGLISH,
        MenuState(tries=1, language=Language.EN),
    )


def test_wrong_keys_and_silence_use_tries_then_fall_back() -> None:
    state = MenuState()
    choice, state = step(state, "7")
    assert (choice, state.tries) == (Choice.RETRY, 1)
    choice, state = step(state, None)
    assert (choice, state.tries) == (Choice.RETRY, 2)
    result = next_step(state, "", topic_digits=TOPIC_DIGITS, max_tries=3)
    assert (result.choice, result.state.tries, result.miss) == (Choice.FALLBACK, 3, Miss.NO_INPUT)


def test_a_topic_on_a_reserved_key_is_not_chosen() -> None:
    result = next_step(MenuState(), "9", topic_digits={"9"}, max_tries=3)
    assert result.choice == Choice.ENGLISH


def test_zero_is_read_last() -> None:
    options = [MenuOption(d, d, d) for d in "0213"]
    assert [o.digit for o in menu_order(options)] == ["1", "2", "3", "0"]


@given(st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=12))
def test_any_key_sequence_ends_in_a_topic_or_the_fallback_within_the_tries(keys) -> None:
    state = MenuState()
    for key in keys:
        result = next_step(state, key, topic_digits=TOPIC_DIGITS, max_tries=3)
        assert result.state.tries in (state.tries, state.tries + 1)
        assert result.state.tries <= 3
        if result.choice == Choice.TOPIC:
            assert result.digit in TOPIC_DIGITS
        if result.choice in (Choice.TOPIC, Choice.FALLBACK):
            return
        state = result.state
    assert state.tries < 3


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    digits=st.one_of(st.none(), st.text(max_size=4)),
    attempt=st.integers(min_value=0, max_value=5),
)
def test_the_menu_webhook_always_answers_twiml(twilio, xml, digits, attempt) -> None:
    twilio.call_sid = "CA" + uuid.uuid4().hex
    extra = {} if digits is None else {"Digits": digits.replace("\x00", "")}
    root = xml.parse(twilio.post(f"/ivr/menu?attempt={attempt}", **extra))
    assert xml.spoken(root)
    assert xml.verbs(root)[-1] in ("Redirect", "Hangup")
