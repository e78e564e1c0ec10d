"""`hotline transcribe FILE...` (issue 3)."""

from __future__ import annotations

import click


@click.command("transcribe")
def transcribe_command() -> None:
    """Transcribe audio files."""
    raise click.ClickException("not built yet")
