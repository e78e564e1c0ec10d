"""TwiML builders: turn prompts into Twilio's `VoiceResponse`, never hand-written XML.

Two rules hold for every document built here:
- every <Gather> is followed by a <Redirect> to the same action, so silence (Twilio falls
  through a Gather that got no keys) comes back to us as "no input" instead of ending the call;
- every <Record> is followed by a <Redirect> to the record action, because Twilio skips the
  action when nothing was recorded and goes on with the next verb.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.prompts import Line
from storage.models import Language

_LANGUAGE_CODES = {Language.VI: "vi-VN", Language.EN: "en-US"}


@dataclass(frozen=True)
class Voices:
    vi: str
    en: str
    # Base URL of recorded prompts; a Line with a key is played from {base}/{lang}/{key}.mp3.
    prompt_audio_url: str = ""

    def voice(self, language: Language) -> str:
        return self.en if language == Language.EN else self.vi


@dataclass(frozen=True)
class Urls:
    """The absolute URLs announced to Twilio inside TwiML."""

    menu: Callable[[int], str]  # attempt number -> URL of the menu action
    record: str
    recording_status: str


def say(target: VoiceResponse | Gather, lines: Iterable[Line], voices: Voices) -> None:
    """Append each line as <Say> in its language and voice, or <Play> of its recorded file."""
    for line in lines:
        if line.key and voices.prompt_audio_url:
            base = voices.prompt_audio_url.rstrip("/")
            target.play(f"{base}/{line.language.value}/{line.key}.mp3")
        else:
            target.say(
                line.text,
                voice=voices.voice(line.language),
                language=_LANGUAGE_CODES[line.language],
            )


def menu(
    before: Iterable[Line],
    menu_lines: Iterable[Line],
    *,
    attempt: int,
    urls: Urls,
    voices: Voices,
    timeout_s: int,
) -> VoiceResponse:
    """Say `before`, then gather one key while saying the menu; silence redirects back."""
    response = VoiceResponse()
    say(response, before, voices)
    action = urls.menu(attempt)
    # finishOnKey="" makes "#" an ordinary (wrong) key instead of an empty submission.
    gather = response.gather(
        input="dtmf",
        num_digits=1,
        timeout=timeout_s,
        finish_on_key="",
        action=action,
        method="POST",
    )
    say(gather, menu_lines, voices)
    response.redirect(action, method="POST")
    return response


def record(
    before: Iterable[Line], *, urls: Urls, voices: Voices, max_seconds: int
) -> VoiceResponse:
    """Say `before`, then record the message; Twilio reports the file to recording-status."""
    response = VoiceResponse()
    say(response, before, voices)
    response.record(
        action=urls.record,
        method="POST",
        max_length=max_seconds,
        finish_on_key="#",
        play_beep=True,
        trim="trim-silence",
        recording_status_callback=urls.recording_status,
        recording_status_callback_method="POST",
        recording_status_callback_event="completed absent",
    )
    response.redirect(urls.record, method="POST")
    return response


def hang_up(lines: Iterable[Line], voices: Voices) -> VoiceResponse:
    """Say `lines`, then hang up."""
    response = VoiceResponse()
    say(response, lines, voices)
    response.hangup()
    return response


def empty() -> VoiceResponse:
    """Return an empty document: the answer to callbacks whose body Twilio ignores."""
    return VoiceResponse()
