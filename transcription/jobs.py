"""The worker's jobs: download a voicemail, keep it safe, transcribe it; and the sweep.

The Recording row's status is the truth and the queue only a wake-up call (ARCHITECTURE.md §4):

    pending --claim--> downloading --stored, sha256, duration--> stored
    stored --claim--> transcribing --Transcript saved--> transcribed
    any claim --failure, attempts left--> back to pending/stored (retried later)
    any claim --permanent failure or attempts used up--> failed (`error` says why)

A claim is a conditional UPDATE (`WHERE status = 'pending'`), so of two workers woken for one
recording exactly one proceeds; a finished step is written only while the claim is still ours,
so a worker the sweep gave up on cannot overwrite its successor's work. Transactions are short:
none is open while a file downloads or the model runs. Nothing here knows the task queue; the
composition root passes `on_finished` (wake ticket routing) and enqueues what `sweep` returns.
"""

from __future__ import annotations

import enum
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session, sessionmaker

from storage.audio_store import AudioStore, sha256_of
from storage.db import transaction
from storage.models import Recording, RecordingStatus, Ticket, Transcript, utcnow
from transcription.audio import decode_audio
from transcription.download import Downloader, recording_media_url
from transcription.engines import make_transcriber
from transcription.errors import AudioError, TranscriptionError
from transcription.options import EngineOptions, JobOptions
from transcription.protocol import Transcriber, TranscriptResult

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
TicketHook = Callable[[int], None]

# Statuses a claim moves from and to, per step.
CLAIMS = {
    RecordingStatus.PENDING: RecordingStatus.DOWNLOADING,
    RecordingStatus.STORED: RecordingStatus.TRANSCRIBING,
}
RELEASE = {v: k for k, v in CLAIMS.items()}


class Outcome(enum.StrEnum):
    TRANSCRIBED = "transcribed"
    FAILED = "failed"  # for good; the ticket goes on without a transcript
    RETRY = "retry"  # a transient failure; the row is waiting again
    SKIPPED = "skipped"  # nothing to do: gone, done, or another worker holds it


def worker_id() -> str:
    """Return a name for this worker thread, shown in `claimed_by`."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


_TRANSCRIBERS: dict[EngineOptions, Transcriber] = {}
_TRANSCRIBERS_LOCK = threading.Lock()


def shared_transcriber(options: EngineOptions) -> Transcriber:
    """Return this process's transcriber for `options`, built on first use and then kept.

    The model loads on the first transcription, never at import and never in a web process
    (web processes only enqueue).
    """
    with _TRANSCRIBERS_LOCK:
        engine = _TRANSCRIBERS.get(options)
        if engine is None:
            engine = make_transcriber(options)
            _TRANSCRIBERS[options] = engine
        return engine


@dataclass
class JobContext:
    """What a job needs, built by the composition root once per process."""

    sessions: sessionmaker[Session]
    store: AudioStore
    transcriber: Callable[[], Transcriber]
    options: JobOptions = field(default_factory=JobOptions)
    downloader: Downloader | None = None
    on_finished: TicketHook | None = None
    clock: Clock = utcnow
    worker: str = field(default_factory=worker_id)

    def __post_init__(self) -> None:
        if self.downloader is None:
            self.downloader = Downloader(self.options.download)


def audio_key(recording: Recording) -> str:
    """Return where a recording's audio is stored: by month of the call, named by its SID."""
    created = recording.created_at or utcnow()
    return f"{created:%Y/%m}/{recording.recording_sid}.wav"


def process_recording(ctx: JobContext, recording_id: int) -> Outcome:
    """Bring one recording as far as it can go: stored, then transcribed."""
    with transaction(ctx.sessions) as db:
        rec = db.get(Recording, recording_id)
        status = rec.status if rec is not None else None
    if status is None:
        log.warning("recording %s does not exist; nothing to do", recording_id)
        return Outcome.SKIPPED
    if status == RecordingStatus.PENDING:
        outcome = _download_step(ctx, recording_id)
        if outcome is not None:
            return outcome
    return _transcribe_step(ctx, recording_id)


def _claim(ctx: JobContext, recording_id: int, source: RecordingStatus) -> bool:
    now = ctx.clock()
    with transaction(ctx.sessions) as db:
        result = db.execute(
            update(Recording)
            .where(Recording.id == recording_id, Recording.status == source)
            .values(
                status=CLAIMS[source],
                claimed_by=ctx.worker,
                claimed_at=now,
                attempts=Recording.attempts + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _ours(recording_id: int, worker: str, status: RecordingStatus) -> list[ColumnElement[bool]]:
    # The WHERE of every write after a claim: the row is still in our step and still ours.
    return [
        Recording.id == recording_id,
        Recording.status == status,
        Recording.claimed_by == worker,
    ]


def _download_step(ctx: JobContext, recording_id: int) -> Outcome | None:
    """Download and store; return None to go on to transcription, else the outcome."""
    if not _claim(ctx, recording_id, RecordingStatus.PENDING):
        return None  # someone else has it, or it moved on; the transcribe step re-checks
    with transaction(ctx.sessions) as db:
        rec = db.get_one(Recording, recording_id)
        url = recording_media_url(rec.source_url)
        key = audio_key(rec)
        sid = rec.recording_sid
    assert ctx.downloader is not None
    try:
        fetched = ctx.downloader.fetch(url, ctx.store, key)
    except TranscriptionError as exc:
        return _fail_or_release(ctx, recording_id, RecordingStatus.DOWNLOADING, exc)
    except Exception as exc:  # a bug or an unexpected library error: retry, loudly
        log.exception("downloading recording %s failed unexpectedly", recording_id)
        return _fail_or_release(ctx, recording_id, RecordingStatus.DOWNLOADING, _internal(exc))

    audio_error: AudioError | None = None
    duration: float | None = None
    try:
        duration = decode_audio(
            ctx.store.path(key), max_seconds=ctx.options.max_audio_seconds
        ).duration_s
    except AudioError as exc:
        audio_error = exc
    now = ctx.clock()
    values: dict[str, object] = {
        "audio_key": key,
        "audio_sha256": fetched.stored.sha256,
        "audio_bytes": fetched.stored.size_bytes,
        "audio_duration_s": duration,
        "content_type": (fetched.content_type or "")[:60] or None,
        "stored_at": now,
        "updated_at": now,
    }
    if audio_error is None:
        values.update(status=RecordingStatus.STORED, claimed_by=None, claimed_at=None, error=None)
    with transaction(ctx.sessions) as db:
        result = db.execute(
            update(Recording)
            .where(*_ours(recording_id, ctx.worker, RecordingStatus.DOWNLOADING))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            log.warning("lost the claim on recording %s while downloading", recording_id)
            return Outcome.SKIPPED
    log.info(
        "stored recording %s (%d bytes, sha256 %s, %.1f s)",
        recording_id,
        fetched.stored.size_bytes,
        fetched.stored.sha256[:12],
        duration or 0.0,
    )
    if audio_error is not None:
        # The bytes are kept (an officer may still play them); nothing will make them decode.
        return _fail_or_release(ctx, recording_id, RecordingStatus.DOWNLOADING, audio_error)
    if ctx.options.download.delete_at_twilio:
        _delete_at_twilio(ctx, recording_id, key, fetched.stored.sha256, sid)
    return None


def _delete_at_twilio(ctx: JobContext, recording_id: int, key: str, sha256: str, sid: str) -> None:
    # Delete Twilio's copy only once ours is verified: read back from disk, same sha256.
    with ctx.store.open(key) as stream:
        if sha256_of(stream) != sha256:
            log.error(
                "stored audio of recording %s does not match its sha256; keeping Twilio's copy",
                recording_id,
            )
            return
    assert ctx.downloader is not None
    if ctx.downloader.delete_at_twilio(sid):
        with transaction(ctx.sessions) as db:
            db.execute(
                update(Recording)
                .where(Recording.id == recording_id)
                .values(deleted_at_twilio_at=ctx.clock())
                .execution_options(synchronize_session=False)
            )


def _transcribe_step(ctx: JobContext, recording_id: int) -> Outcome:
    if not _claim(ctx, recording_id, RecordingStatus.STORED):
        return Outcome.SKIPPED
    with transaction(ctx.sessions) as db:
        rec = db.get_one(Recording, recording_id)
        key = rec.audio_key
        ticket = db.get(Ticket, rec.ticket_id)
        language = ticket.language.value if ticket is not None else "vi"
        ticket_id = rec.ticket_id
    try:
        if not key:
            raise AudioError("the recording has no stored audio", code="audio_missing")
        audio = decode_audio(ctx.store.path(key), max_seconds=ctx.options.max_audio_seconds)
        result = ctx.transcriber().transcribe(audio, language=language)
    except TranscriptionError as exc:
        return _fail_or_release(ctx, recording_id, RecordingStatus.TRANSCRIBING, exc)
    except Exception as exc:
        log.exception("transcribing recording %s failed unexpectedly", recording_id)
        return _fail_or_release(ctx, recording_id, RecordingStatus.TRANSCRIBING, _internal(exc))
    if not _save_transcript(ctx, recording_id, result):
        log.warning("lost the claim on recording %s while transcribing", recording_id)
        return Outcome.SKIPPED
    log.info(
        "transcribed recording %s: %.1f s of audio in %.1f s, %s%s",
        recording_id,
        result.duration_s,
        result.processing_s,
        result.confidence.value,
        "; " + "; ".join(result.notes) if result.notes else "",
    )
    _notify(ctx, ticket_id)
    return Outcome.TRANSCRIBED


def _save_transcript(ctx: JobContext, recording_id: int, result: TranscriptResult) -> bool:
    now = ctx.clock()
    with transaction(ctx.sessions) as db:
        done = db.execute(
            update(Recording)
            .where(*_ours(recording_id, ctx.worker, RecordingStatus.TRANSCRIBING))
            .values(
                status=RecordingStatus.TRANSCRIBED,
                claimed_by=None,
                claimed_at=None,
                error=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            return False
        db.add(
            Transcript(
                recording_id=recording_id,
                text=result.text,
                segments=[s.to_json() for s in result.segments],
                language=result.language,
                engine=result.engine,
                model=result.model[:200],
                processing_s=round(result.processing_s, 3),
                audio_duration_s=round(result.duration_s, 3),
                confidence=result.confidence,
                no_speech=result.no_speech,
            )
        )
    return True


def _fail_or_release(
    ctx: JobContext, recording_id: int, held: RecordingStatus, error: TranscriptionError
) -> Outcome:
    """Record a failure: back to waiting if it may pass and attempts are left, else failed."""
    now = ctx.clock()
    reason = error.describe()[:2000]
    with transaction(ctx.sessions) as db:
        rec = db.get(Recording, recording_id)
        if rec is None or rec.status != held or rec.claimed_by != ctx.worker:
            return Outcome.SKIPPED
        retry = error.transient and rec.attempts < ctx.options.max_attempts
        status = RELEASE[held] if retry else RecordingStatus.FAILED
        db.execute(
            update(Recording)
            .where(*_ours(recording_id, ctx.worker, held))
            .values(status=status, claimed_by=None, claimed_at=None, error=reason, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        ticket_id = rec.ticket_id
        attempts = rec.attempts
    if retry:
        log.warning(
            "recording %s: %s (attempt %d of %d, will retry)",
            recording_id,
            reason,
            attempts,
            ctx.options.max_attempts,
        )
        return Outcome.RETRY
    log.error("recording %s failed: %s (attempt %d)", recording_id, reason, attempts)
    # Transcription is an aid, not a gate: the ticket is routed by its topic all the same.
    _notify(ctx, ticket_id)
    return Outcome.FAILED


def _internal(exc: Exception) -> TranscriptionError:
    error = TranscriptionError(
        f"internal error: {type(exc).__name__}: {exc}", code="internal_error"
    )
    error.transient = True
    return error


def _notify(ctx: JobContext, ticket_id: int) -> None:
    if ctx.on_finished is None:
        return
    try:
        ctx.on_finished(ticket_id)
    except Exception:  # the transcript is saved; routing has its own sweep
        log.exception("could not hand ticket %s on after transcription", ticket_id)


def sweep(ctx: JobContext) -> list[int]:
    """Return recordings to wake: waiting ones, and ones whose worker died mid-step.

    A claim older than `stuck_after_minutes` belongs to a worker that was killed or lost; the
    row goes back to waiting (or to failed, once its attempts are used up). Fresh pending rows
    are left alone for `pending_grace_s`: the webhook's own enqueue is on its way.
    """
    now = ctx.clock()
    stale_before = now - timedelta(minutes=ctx.options.stuck_after_minutes)
    waiting_before = now - timedelta(seconds=ctx.options.pending_grace_s)
    wake: list[int] = []
    failed_tickets: list[int] = []
    with transaction(ctx.sessions) as db:
        stuck = db.execute(
            select(
                Recording.id,
                Recording.status,
                Recording.claimed_at,
                Recording.attempts,
                Recording.ticket_id,
            )
            .where(Recording.status.in_(list(RELEASE)), Recording.claimed_at < stale_before)
            .order_by(Recording.id)
        ).all()
        for rec_id, status, claimed_at, attempts, ticket_id in stuck:
            give_up = attempts >= ctx.options.max_attempts
            result = db.execute(
                update(Recording)
                .where(
                    Recording.id == rec_id,
                    Recording.status == status,
                    Recording.claimed_at == claimed_at,
                )
                .values(
                    status=RecordingStatus.FAILED if give_up else RELEASE[status],
                    claimed_by=None,
                    claimed_at=None,
                    updated_at=now,
                    error=(
                        f"worker_lost: the worker stopped during {status.value} {attempts} times"
                        if give_up
                        else f"worker_lost: a worker stopped during {status.value}; retrying"
                    ),
                )
                .execution_options(synchronize_session=False)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                continue
            log.warning(
                "recording %s was stuck in %s since %s; %s",
                rec_id,
                status.value,
                claimed_at,
                "failed" if give_up else "handed on",
            )
            if give_up:
                failed_tickets.append(ticket_id)
            else:
                wake.append(rec_id)
        waiting = db.scalars(
            select(Recording.id)
            .where(Recording.status.in_(list(CLAIMS)), Recording.updated_at < waiting_before)
            .order_by(Recording.id)
        ).all()
        wake.extend(i for i in waiting if i not in wake)
    for ticket_id in failed_tickets:
        _notify(ctx, ticket_id)
    return wake


def wait_for_transcript(
    sessions: sessionmaker[Session], recording_id: int, *, timeout_s: float = 30.0
) -> RecordingStatus | None:
    """Poll until the recording is transcribed or failed; for the CLI and demos."""
    deadline = time.monotonic() + timeout_s
    while True:
        with transaction(sessions) as db:
            rec = db.get(Recording, recording_id)
            status = rec.status if rec is not None else None
        if status in (RecordingStatus.TRANSCRIBED, RecordingStatus.FAILED, None):
            return status
        if time.monotonic() > deadline:
            return status
        time.sleep(0.2)
