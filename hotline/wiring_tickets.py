"""Jobs of the tickets subsystem, adapted from the runtime (filled by issue 4)."""

from __future__ import annotations

from flask import Flask

from hotline.runtime import Runtime
from hotline.tasks import JobRegistry


def register(registry: JobRegistry) -> None:
    """Register the ticket jobs."""


def init_app(app: Flask, rt: Runtime) -> None:
    """Register the notifier and dialler services."""
