"""The objects one process shares: engine, sessions, audio store, queues.

Built once by `create_app` (web and worker alike) and kept in `app.extensions["hotline"]`, so
views, CLI commands and jobs reach the same instances without module-level globals. Nothing here
connects or loads a model when built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from huey import Huey
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hotline.config import Settings
from storage.audio_store import AudioStore, LocalAudioStore
from storage.db import make_engine, make_session_factory


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    audio_store: AudioStore
    # Filled by hotline.tasks.init_app: the light queue and the transcription queue.
    queues: dict[str, Huey] = field(default_factory=dict)
    # Filled by each subsystem's init_app (telephony, notifier ...).
    services: dict[str, Any] = field(default_factory=dict)


def build_runtime(settings: Settings) -> Runtime:
    """Create the process's shared objects from settings."""
    engine = make_engine(settings.database_url)
    audio_dir = Path(settings.audio_dir)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        audio_store=LocalAudioStore(audio_dir),
    )


def runtime(app: Flask | None = None) -> Runtime:
    """Return the runtime of `app` (default: the current app)."""
    target = app if app is not None else current_app
    rt: Runtime = target.extensions["hotline"]
    return rt
