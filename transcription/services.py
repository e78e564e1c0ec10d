"""Services of the transcription subsystem for the edges (web, CLI): session first, flush only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from storage.models import Recording, RecordingStatus


def retry_recording(db: Session, recording_id: int, *, now: datetime) -> bool:
    """Put a failed recording back in line (an officer's "try again"); return False if not failed.

    It restarts where it failed: from the download if no audio is stored, else from the
    transcription, with a fresh count of attempts. The caller commits, then enqueues
    "process_recording" (or leaves it to the sweep).
    """
    rec = db.get(Recording, recording_id)
    if rec is None or rec.status != RecordingStatus.FAILED:
        return False
    rec.status = RecordingStatus.STORED if rec.audio_key else RecordingStatus.PENDING
    rec.attempts = 0
    rec.error = None
    rec.updated_at = now
    db.flush()
    return True
