"""Jobs of the transcription subsystem, adapted from the runtime (filled by issue 3)."""

from __future__ import annotations

from hotline.tasks import JobRegistry


def register(registry: JobRegistry) -> None:
    """Register the transcription jobs."""
