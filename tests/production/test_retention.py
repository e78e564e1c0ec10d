"""Retention: the audio of old recordings is purged with an audit event; transcripts and tickets
stay. The pure function, the periodic job that runs it, and its CLI twin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from hotline.runtime import Runtime
from hotline.tasks import DEFAULT_QUEUE
from storage.audio_store import AudioStore, StoredAudio
from storage.db import transaction
from storage.models import Recording, RecordingStatus, Ticket, Transcript
from storage.retention import PURGE_ACTION, purge_recordings

NOW = datetime(2027, 12, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    app_config["HOTLINE_RETENTION_DAYS"] = "30"
    return app_config


@pytest.fixture
def messages(phone: Any, media: Any, make_wav: Any, rows: Any, worker: Any, rt: Runtime) -> Any:
    """Three transcribed messages, made 400, 31 and 29 days before NOW."""
    made: dict[str, Recording] = {}
    for age_days, digit in ((400, "1"), (31, "2"), (29, "3")):
        sid = "RE" + digit * 32
        phone.leave_message(media.script(sid, media.reply(make_wav(2.0, seed=int(digit)))))
        worker()
        with transaction(rt.sessions) as db:
            db.execute(
                update(Recording)
                .where(Recording.recording_sid == sid)
                .values(created_at=NOW - timedelta(days=age_days))
            )
        made[f"{age_days}d"] = rows.recording(sid)
        assert made[f"{age_days}d"].status == RecordingStatus.TRANSCRIBED
    return made


def test_old_audio_is_purged_with_an_audit_event_and_the_rest_stays(
    rt: Runtime, messages: dict[str, Recording], rows: Any
) -> None:
    store = rt.audio_store
    old, month, young = messages["400d"], messages["31d"], messages["29d"]
    with transaction(rt.sessions) as db:
        report = purge_recordings(db, store=store, now=NOW, days=30)
    assert report.purged == [old.id, month.id] and report.failed == []
    for gone in (old, month):
        assert gone.audio_key is not None and not store.exists(gone.audio_key)
        after = rows.recording(gone.recording_sid)
        assert after.audio_key is None and after.purged_at == NOW
        # Evidence of what was kept stays; so do the transcript and the ticket.
        assert after.audio_sha256 == gone.audio_sha256
        assert len(rows.transcripts(gone.id)) == 1
        (event,) = [e for e in rows.events(gone.ticket_id) if e.action == PURGE_ACTION]
        assert event.from_value == gone.audio_key and event.user_id is None
        assert "30 days" in event.reason
    assert young.audio_key is not None and store.exists(young.audio_key)
    assert rows.recording(young.recording_sid).purged_at is None
    with transaction(rt.sessions) as db:
        assert purge_recordings(db, store=store, now=NOW, days=30).purged == []
        assert db.query(Ticket).count() == 3 and db.query(Transcript).count() == 3


def test_zero_days_keeps_everything_and_a_dry_run_changes_nothing(
    rt: Runtime, messages: dict[str, Recording], rows: Any
) -> None:
    with transaction(rt.sessions) as db:
        assert purge_recordings(db, store=rt.audio_store, now=NOW, days=0).purged == []
        dry = purge_recordings(db, store=rt.audio_store, now=NOW, days=30, dry_run=True)
    assert dry.purged == [messages["400d"].id, messages["31d"].id]
    for recording in messages.values():
        assert recording.audio_key is not None and rt.audio_store.exists(recording.audio_key)
        assert rows.recording(recording.recording_sid).purged_at is None


class FlakyStore:
    """The real store, except that deleting one key fails (a store outage, a permission)."""

    def __init__(self, store: AudioStore, broken_key: str) -> None:
        self.store = store
        self.broken_key = broken_key

    def delete(self, key: str) -> None:
        if key == self.broken_key:
            raise OSError("permission denied")
        self.store.delete(key)

    def put(self, key: str, chunks: Any) -> StoredAudio:
        return self.store.put(key, chunks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_a_store_failure_leaves_that_recording_due_and_purges_the_others(
    rt: Runtime, messages: dict[str, Recording], rows: Any
) -> None:
    old, month = messages["400d"], messages["31d"]
    assert old.audio_key
    store: Any = FlakyStore(rt.audio_store, old.audio_key)
    with transaction(rt.sessions) as db:
        report = purge_recordings(db, store=store, now=NOW, days=30)
    assert report.purged == [month.id] and report.failed == [old.id]
    assert rows.recording(old.recording_sid).purged_at is None
    with transaction(rt.sessions) as db:  # the store is back
        assert purge_recordings(db, store=rt.audio_store, now=NOW, days=30).purged == [old.id]


def test_a_recording_a_worker_holds_is_left_for_the_next_run(
    rt: Runtime, messages: dict[str, Recording]
) -> None:
    old = messages["400d"]
    with transaction(rt.sessions) as db:
        db.execute(
            update(Recording)
            .where(Recording.id == old.id)
            .values(status=RecordingStatus.TRANSCRIBING)
        )
        assert purge_recordings(db, store=rt.audio_store, now=NOW, days=30).purged == [
            messages["31d"].id
        ]


def test_the_cli_twin(app: Flask, messages: dict[str, Recording], rows: Any) -> None:
    runner = app.test_cli_runner()
    now = ["--now", NOW.isoformat()]
    dry = runner.invoke(args=["recordings", "purge", "--dry-run", *now])
    assert dry.exit_code == 0, dry.output
    assert dry.output.startswith("Would purge 2 recording(s) made before 2027-11-01")
    assert rows.recording(messages["400d"].recording_sid).purged_at is None
    done = runner.invoke(args=["recordings", "purge", "--days", "100", *now])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("Purged 1 recording(s)")
    assert f"Recording ids: {messages['400d'].id}" in done.output
    off = runner.invoke(args=["recordings", "purge", "--days", "0", *now])
    assert "Retention is off" in off.output
    bad = runner.invoke(args=["recordings", "purge", "--now", "2027-12-01T03:00:00"])
    assert bad.exit_code != 0 and "offset" in bad.output


def test_the_periodic_job_purges_with_the_configured_days(
    app: Flask, rt: Runtime, messages: dict[str, Recording], rows: Any
) -> None:
    # The job runs at the real time: make the recordings old relative to now.
    shift = datetime.now(UTC) - NOW
    with transaction(rt.sessions) as db:
        for recording in messages.values():
            db.execute(
                update(Recording)
                .where(Recording.id == recording.id)
                .values(created_at=recording.created_at + shift)
            )
    huey = rt.queues[DEFAULT_QUEUE]
    (job,) = [
        t for t in huey.read_periodic(datetime(2027, 1, 1, 5, 41)) if t.name == "purge_recordings"
    ]
    assert not [
        t for t in huey.read_periodic(datetime(2027, 1, 1, 5, 40)) if t.name == "purge_recordings"
    ]
    huey.execute(job)
    assert rows.recording(messages["400d"].recording_sid).purged_at is not None
    assert rows.recording(messages["31d"].recording_sid).purged_at is not None
    assert rows.recording(messages["29d"].recording_sid).purged_at is None
