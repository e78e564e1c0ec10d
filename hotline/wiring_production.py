"""Production wiring: the audio store chosen by settings, and the retention job.

- `build_audio_store`: local folder by default; an S3-compatible bucket when
  HOTLINE_AUDIO_STORE_URL is `s3://bucket/prefix` (several machines share the audio).
- "purge_recordings" (periodic, hourly, light queue): delete the audio of recordings older than
  HOTLINE_RETENTION_DAYS (0 keeps them for ever), with an audit event on each ticket; the CLI
  twin is `hotline recordings purge`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from huey import crontab
from sqlalchemy.orm import Session, sessionmaker

from hotline.config import ConfigError, Settings
from storage import retention
from storage.audio_store import AudioStore, LocalAudioStore
from storage.db import transaction
from storage.s3_store import S3AudioStore

if TYPE_CHECKING:
    from hotline.tasks import JobRegistry

log = logging.getLogger(__name__)

# Hourly, off the full hour when the minute jobs and people's cron jobs crowd in. Each run purges
# at most `retention.DEFAULT_BATCH` recordings, so a backlog drains over a few runs.
PURGE_SCHEDULE = crontab(minute="41")


def build_audio_store(settings: Settings) -> AudioStore:
    """Return the audio store the settings name (nothing connects here)."""
    url = settings.audio_store_url.strip()
    if not url:
        return LocalAudioStore(Path(settings.audio_dir))
    if url.startswith("s3://"):
        try:
            return S3AudioStore.from_url(
                url, cache_dir=Path(settings.audio_dir), endpoint_url=settings.s3_endpoint_url
            )
        except ValueError as exc:
            raise ConfigError(f"HOTLINE_AUDIO_STORE_URL: {exc}") from exc
    raise ConfigError(
        f"HOTLINE_AUDIO_STORE_URL={url!r}: expected empty (local folder) or s3://bucket/prefix"
    )


def purge_recordings(
    sessions: sessionmaker[Session],
    store: AudioStore,
    *,
    now: datetime,
    days: int,
    dry_run: bool = False,
) -> retention.PurgeReport:
    """Run one retention purge in its own transaction and log what it did."""
    with transaction(sessions) as db:
        report = retention.purge_recordings(db, store=store, now=now, days=days, dry_run=dry_run)
    if report.purged or report.failed:
        log.info(
            "retention (%d days)%s: purged %d recording(s), %d failed",
            days,
            " dry run" if dry_run else "",
            report.count,
            len(report.failed),
        )
    return report


def register(registry: JobRegistry) -> None:
    """Register the periodic retention purge."""
    rt = registry.rt

    def purge() -> int:
        days = rt.settings.retention_days
        if days <= 0:
            return 0
        return purge_recordings(rt.sessions, rt.audio_store, now=rt.clock(), days=days).count

    registry.periodic("purge_recordings", purge, schedule=PURGE_SCHEDULE)
