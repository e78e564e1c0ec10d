"""`hotline simulate-call`: plays Twilio's role against a running hotline (issue 2)."""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from hotline.runtime import runtime
from ivr.simulate import CallSimulator, Journey, RecordingServer, audio_seconds
from storage.db import transaction
from storage.models import Call, Recording, RecordingStatus, Ticket

# Stand-in account SID for signing and media URLs when no Twilio account is configured.
DEMO_ACCOUNT_SID = "AC" + "0" * 32
# Recording states that mean the worker has its own copy of the audio.
_FETCHED = {RecordingStatus.STORED, RecordingStatus.TRANSCRIBING, RecordingStatus.TRANSCRIBED}


@click.command("simulate-call")
@click.option(
    "--digits",
    default="1",
    show_default=True,
    help="Keys pressed at the menus, one per menu in order; '_' stays silent at one menu, "
    "and menus after the last key hear silence (--digits '' : silence throughout).",
)
@click.option(
    "--audio",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The caller's message (WAV). Needed unless --silence.",
)
@click.option("--url", default="http://127.0.0.1:5000", show_default=True, help="The hotline.")
@click.option("--from", "caller", default="+84912345678", show_default=True)
@click.option("--to", "called", default="", help="The hotline's number (default: from settings).")
@click.option(
    "--hangup-during-recording", is_flag=True, help="Hang up while speaking instead of pressing #."
)
@click.option("--silence", is_flag=True, help="Say nothing when asked for a message.")
@click.option(
    "--wait",
    type=click.FloatRange(0, 3600),
    default=120.0,
    show_default=True,
    help="Seconds to keep serving the recording until the worker has fetched it.",
)
@with_appcontext
def simulate_call_command(
    digits: str,
    audio: Path | None,
    url: str,
    caller: str,
    called: str,
    hangup_during_recording: bool,
    silence: bool,
    wait: float,
) -> None:
    """Place a simulated call: follow the IVR, leave the message, print what the caller heard."""
    settings = runtime(current_app).settings
    if not settings.twilio_auth_token:
        raise click.ClickException(
            "TWILIO_AUTH_TOKEN is not set: the hotline refuses unsigned calls. Use the same "
            "token as the server (`make run` writes one to .env)."
        )
    if audio is None and not silence:
        raise click.ClickException("give --audio FILE.wav (the caller's message), or --silence")
    account_sid = settings.twilio_account_sid or DEMO_ACCOUNT_SID
    data = audio.read_bytes() if audio is not None and not silence else b""
    simulator = CallSimulator(
        base_url=url,
        auth_token=settings.twilio_auth_token,
        account_sid=account_sid,
        caller=caller,
        called=called or settings.twilio_phone_number or "+842223999999",
        digits=digits,
        hangup_during_recording=hangup_during_recording,
        silence=silence,
        recording_seconds=audio_seconds(audio) if audio is not None else 0.0,
        echo=click.echo,
    )
    media_server = RecordingServer(
        data,
        auth_token=settings.twilio_auth_token,
        account_sid=settings.twilio_account_sid,
        url_account_sid=account_sid,
    )
    if not settings.twilio_account_sid:
        click.echo(
            "No TWILIO_ACCOUNT_SID: the worker has no credentials to send, so the recording "
            "is served to requests without them (wrong ones are still refused)."
        )
    with media_server as media:
        journey = simulator.run(None if silence else media)
        if journey.recording_url and wait > 0:
            _wait_for_download(journey, media, wait)
    _report(journey)


def _wait_for_download(journey: Journey, media: RecordingServer, wait: float) -> None:
    """Keep serving the audio until the worker has its copy, or `wait` seconds have passed."""
    click.echo(f"Serving the recording until the worker fetches it (up to {wait:.0f} s)...")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        state = _recording_state(journey)
        # With the same database the row's status is the truth; against a remote hotline the
        # access log's complete 200 is all there is to go on.
        if state in _FETCHED:
            click.echo(f"The worker has the recording ({state.value}).")
            return
        if state == RecordingStatus.FAILED:
            refused = [code for _, code in media.log if code != 200]
            click.echo(
                "The worker could not fetch the recording"
                + (f" (this server answered HTTP {refused[-1]})." if refused else ".")
            )
            return
        if state is None and media.fetched.is_set():
            click.echo("The recording was downloaded.")
            return
        time.sleep(0.5)
    click.echo(
        "Stopped serving: the worker has not fetched the recording (is `hotline worker` running?)."
    )


def _recording_state(journey: Journey) -> RecordingStatus | None:
    if journey.recording_sid is None:
        return None
    with transaction(runtime(current_app).sessions) as db:
        return db.scalar(
            select(Recording.status).where(Recording.recording_sid == journey.recording_sid)
        )


def _report(journey: Journey) -> None:
    with transaction(runtime(current_app).sessions) as db:
        ticket = db.scalar(
            select(Ticket)
            .join(Call, Ticket.call_id == Call.id)
            .where(Call.call_sid == journey.call_sid)
        )
        if ticket is None:
            heard = journey.ticket_number_heard or "not read out"
            click.echo(
                f"Ticket number heard: {heard} (this machine's database does not have the call; "
                "is --url another hotline?)"
            )
            return
        recording = ticket.recordings[-1].status.value if ticket.recordings else "none"
        click.echo(
            f"Ticket {ticket.number}: {ticket.kind.value}, {ticket.status.value}; "
            f"recording: {recording}. See it with: hotline tickets show {ticket.number}"
        )
