"""Retention: recordings older than the configured number of days are purged from the store.

Only the audio goes: the Recording row stays (with its sha256 and size, as evidence of what was
kept), and so do its transcript and ticket. Each purge leaves an audit event on the ticket.
The file is deleted before the row is marked, so a crash in between leaves an unmarked row
whose file is gone, which the next run finishes; never a row that claims a purge while the
audio is still there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.audio_store import AudioStore
from storage.models import AuditEvent, Recording, RecordingStatus

log = logging.getLogger(__name__)

PURGE_ACTION = "recording_purged"
# Rows per run: one run stays one short transaction; the next run takes the rest.
DEFAULT_BATCH = 500


@dataclass
class PurgeReport:
    cutoff: datetime
    purged: list[int] = field(default_factory=list)  # recording ids
    failed: list[int] = field(default_factory=list)  # the store refused; tried again next run
    dry_run: bool = False

    @property
    def count(self) -> int:
        return len(self.purged)


def purge_recordings(
    db: Session,
    *,
    store: AudioStore,
    now: datetime,
    days: int,
    batch: int = DEFAULT_BATCH,
    dry_run: bool = False,
) -> PurgeReport:
    """Delete the audio of recordings made more than `days` days before `now`; flush, no commit.

    `days` <= 0 keeps recordings for ever. A recording a worker holds right now is left for
    the next run.
    """
    cutoff = now - timedelta(days=max(days, 0))
    report = PurgeReport(cutoff=cutoff, dry_run=dry_run)
    if days <= 0:
        return report
    due = db.scalars(
        select(Recording)
        .where(
            Recording.created_at < cutoff,
            Recording.audio_key.is_not(None),
            Recording.purged_at.is_(None),
            Recording.status.not_in([RecordingStatus.DOWNLOADING, RecordingStatus.TRANSCRIBING]),
        )
        .order_by(Recording.id)
        .limit(batch)
    ).all()
    for recording in due:
        key = recording.audio_key
        assert key is not None
        if dry_run:
            report.purged.append(recording.id)
            continue
        try:
            store.delete(key)
        except Exception:  # a store outage must not stop the others; the row stays due
            log.exception("could not delete the audio of recording %s (%s)", recording.id, key)
            report.failed.append(recording.id)
            continue
        recording.audio_key = None
        recording.purged_at = now
        recording.updated_at = now
        db.add(
            AuditEvent(
                ticket_id=recording.ticket_id,
                user_id=None,
                at=now,
                action=PURGE_ACTION,
                from_value=key,
                to_value=None,
                reason=f"retention: recordings are kept {days} days",
            )
        )
        report.purged.append(recording.id)
    db.flush()
    return report
