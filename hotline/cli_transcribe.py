"""`hotline transcribe FILE...` and `hotline recordings sweep|retry` (issue 3)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from hotline.runtime import runtime
from hotline.wiring_transcription import build_context, engine_options
from storage.db import transaction
from transcription import jobs, services
from transcription.audio import decode_audio
from transcription.engines import ENGINES, make_transcriber
from transcription.errors import TranscriptionError
from transcription.protocol import TranscriptResult


@click.command("transcribe")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file, one per line.")
@click.option("--engine", type=click.Choice(ENGINES), help="Default: HOTLINE_TRANSCRIBE_ENGINE.")
@click.option("--model", help="Size name, Hugging Face repo id, folder or .pt file.")
@click.option("--beam-size", type=click.IntRange(1, 10), help="1 is greedy decoding.")
@click.option("--language", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.option("--max-seconds", type=float, help="Longest audio accepted. Default: the setting.")
@with_appcontext
def transcribe_command(
    files: tuple[Path, ...],
    as_json: bool,
    engine: str | None,
    model: str | None,
    beam_size: int | None,
    language: str,
    max_seconds: float | None,
) -> None:
    """Transcribe audio files (WAV, MP3, ...) and print the text or JSON."""
    settings = runtime(current_app).settings
    options = engine_options(settings)
    if engine:
        options = replace(options, engine=engine)
    if model:
        options = replace(options, model=model)
    if beam_size:
        options = replace(options, decode=replace(options.decode, beam_size=beam_size))
    limit = max_seconds if max_seconds is not None else float(settings.max_audio_seconds)
    transcriber = make_transcriber(options)
    failures = 0
    show_bar = sys.stderr.isatty() and len(files) > 1
    with (
        click.progressbar(
            files,
            label="Transcribing",
            file=sys.stderr,
            show_pos=True,
            item_show_func=lambda p: p.name if p else None,
        )
        if show_bar
        else _plain(files) as items
    ):
        for path in items:
            try:
                audio = decode_audio(path, max_seconds=limit)
                result = transcriber.transcribe(audio, language=language)
            except TranscriptionError as exc:
                failures += 1
                _report_error(path, exc, as_json)
                continue
            _print_result(path, result, as_json)
    if failures:
        raise SystemExit(1)


class _plain:
    """A stand-in for click's progress bar when stderr is not a terminal."""

    def __init__(self, items: tuple[Path, ...]) -> None:
        self.items = items

    def __enter__(self) -> tuple[Path, ...]:
        return self.items

    def __exit__(self, *exc: object) -> None:
        return None


def _print_result(path: Path, result: TranscriptResult, as_json: bool) -> None:
    if as_json:
        data: dict[str, Any] = {
            "file": str(path),
            "text": result.text,
            "language": result.language,
            "duration_s": round(result.duration_s, 3),
            "processing_s": round(result.processing_s, 3),
            "engine": result.engine,
            "model": result.model,
            "confidence": result.confidence.value,
            "no_speech": result.no_speech,
            "segments": [s.to_json() for s in result.segments],
        }
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    header = (
        f"{path}  ({result.duration_s:.1f} s of audio in {result.processing_s:.1f} s, "
        f"confidence {result.confidence.value})"
    )
    click.echo(click.style(header, bold=True))
    if result.no_speech:
        click.echo("  (no speech)")
    for s in result.segments:
        mark = " ?" if s.low_confidence else "  "
        click.echo(f"{mark}[{_clock(s.start)} → {_clock(s.end)}] {s.text}")


def _report_error(path: Path, exc: TranscriptionError, as_json: bool) -> None:
    click.echo(f"{path}: error: {exc.message} ({exc.code})", err=True)
    if as_json:
        click.echo(
            json.dumps(
                {"file": str(path), "error": exc.code, "message": exc.message}, ensure_ascii=False
            )
        )


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes):02d}:{rest:04.1f}"


@click.group("recordings")
def recordings_group() -> None:
    """Voicemail recordings: the sweep, and retrying failed ones."""


@recordings_group.command("sweep")
@with_appcontext
def sweep_command() -> None:
    """Wake recordings that are waiting or stuck (what the worker does every minute)."""
    rt = runtime(current_app)
    woken = jobs.sweep(build_context(rt))
    for recording_id in woken:
        rt.services["jobs"].enqueue("process_recording", recording_id)
    click.echo(f"Woke {len(woken)} recording(s)" + (f": {woken}" if woken else "."))


@recordings_group.command("retry")
@click.argument("recording_id", type=int)
@with_appcontext
def retry_command(recording_id: int) -> None:
    """Put a failed recording back in line."""
    rt = runtime(current_app)
    with transaction(rt.sessions) as db:
        ok = services.retry_recording(db, recording_id, now=rt.clock())
    if not ok:
        raise click.ClickException(f"recording {recording_id} is not a failed recording")
    rt.services["jobs"].enqueue("process_recording", recording_id)
    click.echo(f"Recording {recording_id} will be processed again.")
