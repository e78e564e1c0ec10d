"""The objects one process shares: engine, sessions, audio store, queues.

Built once by `create_app` (web and worker alike) and kept in `app.extensions["hotline"]`, so
views, CLI commands and jobs reach the same instances without module-level globals. Nothing here
connects or loads a model when built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from huey import Huey
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hotline.config import Settings
from hotline.wiring_production import build_audio_store
from storage.audio_store import AudioStore
from storage.db import make_engine, make_session_factory
from storage.models import utcnow
from storage.reference_cache import ReferenceCache


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    audio_store: AudioStore
    # Sessions for requests that only read (GET): on SQLite they do not queue behind writers.
    read_sessions: sessionmaker[Session]
    # Filled by hotline.tasks.init_app: the light queue and the transcription queue.
    queues: dict[str, Huey] = field(default_factory=dict)
    # Filled by each subsystem's init_app (telephony, notifier ...).
    services: dict[str, Any] = field(default_factory=dict)
    # Office calendar and menu topics, shared by the requests of this process.
    reference: ReferenceCache = field(default_factory=ReferenceCache)
    # "Now" for every webhook, page and job of this process (an aware UTC datetime). Tests
    # freeze it (test_config["HOTLINE_CLOCK"]) so that nothing they assert depends on the date.
    clock: Callable[[], datetime] = utcnow

    def close(self) -> None:
        """Release the database connections (tests, and workers at exit)."""
        self.engine.dispose()
        read_bind = self.read_sessions.kw.get("bind")
        if read_bind is not None and read_bind is not self.engine:
            read_bind.dispose()


def build_runtime(settings: Settings) -> Runtime:
    """Create the process's shared objects from settings."""
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    read_sessions = sessions
    if engine.dialect.name == "sqlite":
        read_sessions = make_session_factory(make_engine(settings.database_url, read_only=True))
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        read_sessions=read_sessions,
        audio_store=build_audio_store(settings),
    )


def runtime(app: Flask | None = None) -> Runtime:
    """Return the runtime of `app` (default: the current app)."""
    target = app if app is not None else current_app
    rt: Runtime = target.extensions["hotline"]
    return rt
